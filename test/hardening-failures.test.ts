/**
 * Issue 13, defect 6 (and the device part of 11): what a device or hook that
 * fails leaves behind. The contract (docs/owner-guarded-io.md is not the
 * place; README "Devices, hooks and failures"):
 *
 * - A throwing before-hook, or an unmapped address that faults, stops the
 *   access or copy before any byte moves.
 * - A write that touches RAM and devices gives its RAM storage first, then
 *   performs the device pieces in address order, then writes the RAM: a
 *   device that throws leaves every RAM byte of the write as it was (the
 *   device pieces before it were performed: I/O cannot be undone).
 * - A read into the caller's buffer (readInto) reads the device pieces first:
 *   a device that throws leaves the buffer as it was.
 * - After-hooks run once the bytes moved; one that throws reports its error
 *   with the access performed.
 * - A device read must return an integer (bigint or safe number): anything
 *   else is a DeviceError, not a raw TypeError/RangeError/SyntaxError.
 *
 * Before the fix, a page-crossing RAM->device write that the device refused
 * left the RAM half written, and a bulk write across RAM, device, RAM left
 * the first page written.
 */
import { describe, it, expect } from "vitest";
import { Mmu, LONG_MODE, X86MmuError, DeviceError, encodeAccess } from "../src/index.js";

const DEV = 0xfee00000n;
const HIGH = 0x40000000n; // above the low window: storage from the radix tree

function setup(device: { read?: (pa: bigint, size: number) => unknown; write?: (pa: bigint, size: number, v: bigint) => void } = {}) {
  const mmu = new Mmu();
  const pt = mmu.createPageTable();
  const w = { flags: { writable: true } };
  pt.map(0x400000n, 0x200000n, 0x2000n, w); // RAM, RAM
  pt.map(0x402000n, DEV, 0x1000n, w); // device
  pt.map(0x403000n, HIGH, 0x1000n, w); // RAM
  mmu.loadState({ ...LONG_MODE, cr3: pt.root });
  mmu.mapDevice(DEV, 0x1000n, { read: (pa, size) => (device.read ? device.read(pa, size) : 0) as bigint, write: (pa, size, v) => device.write?.(pa, size, v) });
  return mmu;
}

const boom = () => {
  throw new Error("device refused");
};

describe("device failures leave RAM as it was", () => {
  it("a page-crossing RAM->device write whose device throws writes no RAM byte", () => {
    const mmu = setup({ write: boom });
    expect(() => mmu.write(0x401ffcn, 8, 0x1122334455667788n)).toThrow("device refused");
    expect(mmu.memory.read(0x201ffcn, 4)).toBe(0n);
    expect(() => mmu.storeNumber(0x401ffe, encodeAccess({ op: "write", size: 4 }), 0x11223344)).toThrow("device refused");
    expect(mmu.memory.read(0x201ffcn, 4)).toBe(0n);
  });

  it("a bulk write across RAM, device, RAM whose device throws writes no RAM byte", () => {
    const mmu = setup({ write: boom });
    mmu.memory.writeBytes(0x200000n, new Uint8Array(0x2000).fill(1));
    expect(() => mmu.writeBytes(0x400000n, new Uint8Array(0x4000).fill(0xee))).toThrow("device refused");
    expect(mmu.memory.readBytes(0x200000n, 0x2000).every((b) => b === 1)).toBe(true);
    expect(mmu.memory.read(HIGH, 8)).toBe(0n);
    // The physical API keeps the same rule.
    expect(() => mmu.memory.writeBytes(DEV - 0x1000n, new Uint8Array(0x2000).fill(5))).toThrow("device refused");
    expect(mmu.memory.read(DEV - 0x1000n, 8)).toBe(0n);
  });

  it("a device that throws after some pieces: those pieces were performed, RAM was not written", () => {
    const seen: bigint[] = [];
    const mmu = setup({ write: (pa) => { seen.push(pa); if (seen.length === 3) boom(); } });
    expect(() => mmu.writeBytes(0x401ff0n, new Uint8Array(0x40).fill(7))).toThrow("device refused");
    expect(seen).toEqual([DEV, DEV + 8n, DEV + 16n]);
    expect(mmu.memory.readBytes(0x201ff0n, 16).every((b) => b === 0)).toBe(true);
  });

  it("readInto with a device that throws leaves the caller's buffer as it was", () => {
    const mmu = setup({ read: boom });
    mmu.memory.writeBytes(0x200000n, new Uint8Array(0x2000).fill(3));
    const target = new Uint8Array(0x3000).fill(9);
    expect(() => mmu.readInto(0x400000n, target)).toThrow("device refused");
    expect(target.every((b) => b === 9)).toBe(true);
  });

  it("a throwing after-hook reports its error with the write performed", () => {
    const mmu = setup();
    mmu.addHook({ space: "linear", start: 0x400000n, length: 0x1000n, ops: ["write"], after: () => { throw new Error("after"); } });
    expect(() => mmu.write(0x400010n, 4, 0xabcdn)).toThrow("after");
    expect(mmu.memory.read(0x200010n, 4)).toBe(0xabcdn);
    expect(() => mmu.writeBytes(0x400020n, Uint8Array.of(1, 2))).toThrow("after");
    expect(mmu.memory.read(0x200020n, 2)).toBe(0x201n);
  });

  it("a throwing before-hook writes nothing", () => {
    const mmu = setup();
    mmu.addHook({ space: "linear", start: 0x401000n, length: 0x1000n, ops: ["write"], before: () => { throw new Error("before"); } });
    expect(() => mmu.writeBytes(0x400ff0n, new Uint8Array(0x20).fill(4))).toThrow("before");
    expect(mmu.memory.read(0x200ff0n, 8)).toBe(0n);
  });
});

describe("device reads that are not integers", () => {
  it.each([["NaN", Number.NaN], ["undefined", undefined], ["an object", {}], ["a string", "7"], ["1.5", 1.5]])("%s is a DeviceError on every path", (_, value) => {
    const mmu = setup({ read: () => value });
    for (const f of [() => mmu.read(0x402000n, 4), () => mmu.readBytes(0x402000n, 16), () => mmu.memory.read(DEV, 4), () => mmu.memory.readBytes(DEV, 8)]) {
      expect(f).toThrow(DeviceError);
      expect(f).toThrow(X86MmuError);
    }
  });

  it("a negative or wide integer gives its low bytes", () => {
    const mmu = setup({ read: (_pa, size) => (size === 4 ? -1 : 0x1_0000_0000_0001n) });
    expect(mmu.read(0x402000n, 4)).toBe(0xffffffffn);
  });
});

describe("callbacks that change storage during a copy", () => {
  it("a device callback that frees the destination frame cannot make the copy write into another frame's storage", () => {
    const mmu = setup({
      write: () => {
        mmu.memory.freeFrame(HIGH);
        mmu.memory.write(HIGH + 0x1000n, 8, 0x5555n); // may reuse the freed frame's storage
      },
    });
    mmu.memory.write(HIGH, 1, 1);
    mmu.writeBytes(0x402ff8n, new Uint8Array(16).fill(0xaa)); // 8 bytes to the device, 8 to RAM at HIGH
    expect(mmu.memory.read(HIGH + 0x1000n, 8)).toBe(0x5555n);
    expect(mmu.memory.read(HIGH, 8)).toBe(0xaaaaaaaaaaaaaaaan);
  });

  it("a snapshot taken by a device callback during a copy is restored over the copy's RAM writes", () => {
    let snap: ReturnType<Mmu["snapshot"]> | undefined;
    const mmu = setup({ write: () => void (snap ??= mmu.snapshot()) });
    mmu.memory.write(HIGH, 8, 0x1234n);
    mmu.writeBytes(0x402ff8n, new Uint8Array(16).fill(0xbb));
    expect(mmu.memory.read(HIGH, 8)).toBe(0xbbbbbbbbbbbbbbbbn);
    mmu.restore(snap!);
    expect(mmu.memory.read(HIGH, 8)).toBe(0x1234n);
  });

  it("a dirty-log clear by a device callback during a copy still lists the copy's RAM frame", () => {
    const mmu = setup({ write: () => mmu.dirtyLog.clear() });
    mmu.memory.write(HIGH, 8, 1);
    mmu.dirtyLog.start();
    mmu.writeBytes(0x402ff8n, new Uint8Array(16).fill(0xcc));
    expect(mmu.dirtyLog.frames()).toContain(HIGH);
  });
});
