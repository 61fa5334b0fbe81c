/**
 * Issue 13, "Also": fault injection for copies. A multi-page copy over RAM
 * and device pages (RAM, device, RAM, device, RAM), with a device or a hook
 * that throws at its k-th callback, for every k. The contract (README
 * "Callbacks that fail or call back, and limits"):
 *
 * - writes (Mmu.writeBytes, VmWriter.writeBytes, a space-to-space copy):
 *   RAM is all or nothing, and nothing when a device throws; the device
 *   pieces before the throw were performed, in address order, with the right
 *   bytes; none after it;
 * - readInto: the device pieces are read first; one that throws leaves the
 *   caller's buffer as it was;
 * - a before-hook that throws stops the copy before any byte moves (RAM and
 *   devices untouched); an after-hook that throws reports its error with the
 *   whole copy performed.
 */
import { describe, it, expect } from "vitest";
import { Mmu, LONG_MODE, VmSpace } from "../src/index.js";

const DEV = 0xfee00000n; // two device pages: DEV and DEV + 0x1000
const A = 0x200000n;
const B = 0x201000n;
const C = 0x40000000n; // above the low window: storage from the radix tree
const FRAMES = [A, DEV, B, DEV + 0x1000n, C];
const VA = 0x400000n; // VA + i * 0x1000 -> FRAMES[i]
const START = VA + 0xff0n; // the copy: 16 bytes of A, both device pages and B whole, 16 bytes of C
const LEN = 0x10 + 3 * 0x1000 + 0x10;

class Injected extends Error {}

interface Rig {
  mmu: Mmu;
  /** Device callbacks: [pa, value] for writes, pa for reads; `throwAt` (1-based) throws instead. */
  calls: { pa: bigint; value?: bigint }[];
  throwAt: number;
  armed: boolean;
}

function rig(withSpace = false): Rig & { space?: VmSpace } {
  const mmu = new Mmu();
  const r: Rig & { space?: VmSpace } = { mmu, calls: [], throwAt: 0, armed: false };
  const hit = (pa: bigint, value?: bigint): void => {
    if (!r.armed) return;
    r.calls.push({ pa, value });
    if (r.calls.length === r.throwAt) throw new Injected(`device call ${r.throwAt}`);
  };
  mmu.mapDevice(DEV, 0x2000n, {
    read: (pa, size) => {
      hit(pa);
      return BigInt.asUintN(size * 8, pa * 0x0101010101n);
    },
    write: (pa, _size, v) => hit(pa, v),
  });
  if (withSpace) {
    const space = VmSpace.create(mmu);
    space.activate();
    FRAMES.forEach((pa, i) => space.map(VA + BigInt(i) * 0x1000n, pa, 0x1000n));
    space.mapFresh(0x800000n, 0x4000n); // a RAM source for space-to-space copies
    r.space = space;
  } else {
    const pt = mmu.createPageTable();
    FRAMES.forEach((pa, i) => pt.map(VA + BigInt(i) * 0x1000n, pa, 0x1000n, { flags: { writable: true, user: true } }));
    mmu.loadState({ ...LONG_MODE, cr3: pt.root });
  }
  return r;
}

const OLD = 0x11;
function resetRam(mmu: Mmu): void {
  for (const pa of [A, B, C]) mmu.memory.writeBytes(pa, new Uint8Array(0x1000).fill(OLD));
}

const data = Uint8Array.from({ length: LEN }, (_, i) => (i * 7 + 3) & 0xff);

/** The RAM bytes of the copy's range, as [offset in the copy, byte]. */
function ramBytes(mmu: Mmu): Uint8Array {
  return Uint8Array.of(...mmu.memory.readBytes(A + 0xff0n, 0x10), ...mmu.memory.readBytes(B, 0x1000), ...mmu.memory.readBytes(C, 0x10));
}
const RAM_OFFSETS = [[0, 0x10], [0x1010, 0x2010], [0x3010, 0x3020]] as const;
const ramOf = (bytes: Uint8Array): Uint8Array => Uint8Array.of(...RAM_OFFSETS.flatMap(([a, b]) => [...bytes.subarray(a, b)]));

/** The device pieces a complete write performs, in order: [pa, value] (8-byte pieces, little-endian). */
function expectedDeviceWrites(src: Uint8Array): { pa: bigint; value: bigint }[] {
  const out: { pa: bigint; value: bigint }[] = [];
  for (const [dev, off] of [[DEV, 0x10], [DEV + 0x1000n, 0x2010]] as const) {
    for (let i = 0; i < 0x1000; i += 8) {
      let v = 0n;
      for (let j = 7; j >= 0; j--) v = (v << 8n) | BigInt(src[off + i + j]!);
      out.push({ pa: dev + BigInt(i), value: v });
    }
  }
  return out;
}

/** Runs `copy` with the device throwing at every k (and never), checking the write contract. */
function everyKWrite(r: Rig, copy: () => void, src: Uint8Array): number {
  const all = expectedDeviceWrites(src);
  const n = all.length;
  for (let k = 1; k <= n + 1; k++) {
    resetRam(r.mmu);
    r.calls = [];
    r.throwAt = k;
    r.armed = true;
    let err: unknown;
    try {
      copy();
    } catch (e) {
      err = e;
    }
    r.armed = false;
    if (k <= n) {
      expect(err, `k=${k}`).toBeInstanceOf(Injected);
      // The pieces up to and including the k-th were attempted, in order, with the right bytes; none after.
      expect(r.calls, `k=${k}`).toEqual(all.slice(0, k));
      // RAM: nothing.
      const ram = ramBytes(r.mmu);
      if (!ram.every((b) => b === OLD)) throw new Error(`k=${k}: RAM was written although device call ${k} threw`);
    } else {
      expect(err, "no throw").toBeUndefined();
      expect(r.calls).toEqual(all);
      expect(ramBytes(r.mmu)).toEqual(ramOf(src));
    }
  }
  return n;
}

describe("a device that throws at its k-th callback, for every k", () => {
  it("Mmu.writeBytes: device pieces before k performed, RAM untouched; all of it without a throw", () => {
    const r = rig();
    expect(everyKWrite(r, () => r.mmu.writeBytes(START, data, { cpl: 3 }), data)).toBe(1024);
  });

  it("VmWriter.writeBytes: the same, and the writer's cursor does not move", () => {
    const r = rig(true);
    everyKWrite(
      r,
      () => {
        const w = r.space!.writer(START, LEN);
        try {
          let res;
          try {
            res = w.writeBytes(data);
          } catch (e) {
            expect(w.cursor).toBe(START);
            throw e;
          }
          expect(res).toEqual({ copied: LEN, fault: undefined });
        } finally {
          w.close();
        }
      },
      data,
    );
  });

  it("a space-to-space copy (RAM reader into the device-spanning writer): the same", () => {
    const r = rig(true);
    const space = r.space!;
    space.withWriter(0x800000n, LEN, (w) => w.writeBytes(data)); // the source bytes, in RAM
    everyKWrite(
      r,
      () => {
        const rd = space.reader(0x800000n, LEN);
        const w = space.writer(START, LEN);
        try {
          expect(rd.readFallible(w)).toEqual({ copied: LEN, fault: undefined });
        } finally {
          rd.close();
          w.close();
        }
      },
      data,
    );
  });

  it("readInto: device pieces are read first; one that throws leaves the whole buffer as it was", () => {
    const r = rig();
    resetRam(r.mmu);
    const target = new Uint8Array(LEN);
    r.armed = true;
    r.throwAt = 0;
    r.mmu.readInto(START, target, { cpl: 3 });
    const full = target.slice();
    const n = r.calls.length;
    expect(n).toBe(1024);
    for (let k = 1; k <= n; k++) {
      r.calls = [];
      r.throwAt = k;
      target.fill(0xee);
      expect(() => r.mmu.readInto(START, target, { cpl: 3 }), `k=${k}`).toThrow(Injected);
      expect(r.calls.length).toBe(k);
      if (!target.every((b) => b === 0xee)) throw new Error(`k=${k}: readInto changed the buffer although device call ${k} threw`);
    }
    r.throwAt = 0;
    expect(r.mmu.readBytes(START, LEN, { cpl: 3 })).toEqual(full);
    expect(ramOf(full).every((b) => b === OLD)).toBe(true);
  });
});

describe("a hook that throws at its k-th callback, for every k", () => {
  /** Physical hooks on each of the five frames, before or after writes; `k`-th call throws. */
  function hooked(kind: "before" | "after") {
    const r = rig();
    let calls = 0;
    let throwAt = 0;
    for (const pa of FRAMES) {
      r.mmu.addHook({
        space: "physical",
        start: pa,
        length: 0x1000n,
        ops: ["write"],
        [kind]: () => {
          if (!r.armed) return;
          if (++calls === throwAt) throw new Injected(`${kind} hook call ${throwAt}`);
        },
      });
    }
    return { r, set: (k: number) => ((calls = 0), (throwAt = k)), count: () => calls };
  }

  it("a before-hook: nothing moves, neither RAM nor a device piece", () => {
    const h = hooked("before");
    h.set(0);
    h.r.armed = true;
    resetRam(h.r.mmu);
    h.r.mmu.writeBytes(START, data);
    const n = h.count();
    expect(n).toBe(5); // once per page
    for (let k = 1; k <= n; k++) {
      resetRam(h.r.mmu);
      h.r.calls = [];
      h.set(k);
      expect(() => h.r.mmu.writeBytes(START, data), `k=${k}`).toThrow(Injected);
      expect(h.r.calls, `k=${k}: device pieces`).toEqual([]);
      expect(ramBytes(h.r.mmu).every((b) => b === OLD), `k=${k}: RAM`).toBe(true);
    }
  });

  it("an after-hook: the error is reported with the whole copy performed", () => {
    const h = hooked("after");
    const all = expectedDeviceWrites(data);
    h.r.armed = true;
    for (let k = 1; k <= 5; k++) {
      resetRam(h.r.mmu);
      h.r.calls = [];
      h.set(k);
      expect(() => h.r.mmu.writeBytes(START, data), `k=${k}`).toThrow(Injected);
      expect(h.r.calls).toEqual(all);
      expect(ramBytes(h.r.mmu)).toEqual(ramOf(data));
    }
  });
});
