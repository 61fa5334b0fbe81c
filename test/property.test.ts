/**
 * Property tests: the WebAssembly core and the reference walker agree on
 * random page tables (test/helpers/random-scenario.ts). Every output field is
 * compared; with trace, everything but `walk`.
 *
 * X86MMU_PROPERTY_RUNS sets the number of runs per property (default 300);
 * X86MMU_PROPERTY_SEED replays a seed fast-check reported.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { engines } from "./helpers/engines.js";
import { scenarioArb } from "./helpers/random-scenario.js";
import { Mmu, LONG_MODE, PageFault, type Snapshot, type SavedRegisters, type AccessEvent } from "../src/index.js";

const numRuns = Number(process.env.X86MMU_PROPERTY_RUNS ?? "") || 300;
const seedEnv = process.env.X86MMU_PROPERTY_SEED;
const params: fc.Parameters<unknown> = {
  numRuns,
  ...(seedEnv !== undefined && seedEnv !== "" ? { seed: Number(seedEnv) } : {}),
};

/** About 4 ms per run and property; generous so that large run counts do not time out. */
const timeout = Math.max(60_000, numRuns * 20);

const [first, second] = engines as [(typeof engines)[0], (typeof engines)[0]];

interface Output {
  results: Array<Record<string, unknown>>;
  memory: Array<{ paddr: string; value: string }>;
}

/** The output without `walk` in any result. */
function withoutWalk(o: unknown): unknown {
  const r = structuredClone(o) as Output;
  for (const x of r.results) delete x.walk;
  return r;
}

describe(`${first.name} and ${second.name} engines agree on random page tables`, () => {
  it(`produce the same output (${numRuns} runs)`, () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        expect(first.runJson(s)).toStrictEqual(second.runJson(s));
      }),
      params,
    );
  }, timeout);

  it(`produce the same output with trace, walk aside (${numRuns} runs)`, () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const a = first.runJson(s, { trace: true }) as Output;
        const b = second.runJson(s, { trace: true }) as Output;
        for (const r of [...a.results, ...b.results]) expect(Array.isArray(r.walk)).toBe(true);
        expect(withoutWalk(a)).toStrictEqual(withoutWalk(b));
      }),
      params,
    );
  }, timeout);

  it(`list changed memory ascending, 8-byte aligned words only (${numRuns} runs)`, () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        for (const e of engines) {
          const out = e.runJson(s) as Output;
          let prev = -1n;
          for (const m of out.memory) {
            const paddr = BigInt(m.paddr);
            expect(paddr % 8n, `${e.name}: ${m.paddr} not 8-byte aligned`).toBe(0n);
            expect(paddr > prev, `${e.name}: ${m.paddr} not above the previous entry`).toBe(true);
            prev = paddr;
          }
        }
      }),
      params,
    );
  }, timeout);
});

/**
 * Differential fuzz of snapshots/restore, hooks and MMIO (issue 13): random
 * sequences of translated writes and reads (single accesses and multi-page
 * copies), physical writes, snapshots, restores, hooks added and removed,
 * over RAM pages and device pages, against a model that is a plain Map of
 * bytes: RAM bytes (rolled back by restore) and device bytes (a device is
 * I/O: restore leaves it alone), plus the hook events it expects.
 *
 * X86MMU_FUZZ_RUNS sets the number of sequences (default 25, to keep the
 * suite fast); X86MMU_FUZZ_SEED replays the seed fast-check prints on failure.
 */

const fuzzRuns = Number(process.env.X86MMU_FUZZ_RUNS ?? "") || 25;
const fuzzSeedEnv = process.env.X86MMU_FUZZ_SEED;
const fuzzParams: fc.Parameters<unknown> = {
  numRuns: fuzzRuns,
  ...(fuzzSeedEnv !== undefined && fuzzSeedEnv !== "" ? { seed: Number(fuzzSeedEnv) } : {}),
};

const DEV_PA = 0xfee00000n;
/** Linear page i -> FRAMES[i]; page 6 is unmapped (accesses reaching it fault). */
const FRAMES = [0x200000n, 0x201000n, 0x40000000n, DEV_PA, 0x202000n, DEV_PA + 0x1000n];
const VA0 = 0x400000n;
const isDev = (pa: bigint) => pa >= DEV_PA && pa < DEV_PA + 0x2000n;

type Op =
  | { t: "write"; page: number; off: number; size: 1 | 2 | 4 | 8; value: bigint }
  | { t: "writeBytes"; page: number; off: number; len: number; fill: number }
  | { t: "read"; page: number; off: number; size: 1 | 2 | 4 | 8 }
  | { t: "readBytes"; page: number; off: number; len: number }
  | { t: "phys"; frame: number; off: number; value: bigint }
  | { t: "snapshot" }
  | { t: "restore"; which: number }
  | { t: "hook"; page: number }
  | { t: "unhook"; which: number };

const page = fc.integer({ min: 0, max: 5 });
const off = fc.oneof(fc.integer({ min: 0, max: 0xfff }), fc.constantFrom(0, 0xff8, 0xffc, 0xfff));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant("write" as const), page, off, size: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const), value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("writeBytes" as const), page, off, len: fc.integer({ min: 1, max: 0x2100 }), fill: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("read" as const), page, off, size: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("readBytes" as const), page, off, len: fc.integer({ min: 1, max: 0x2100 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("phys" as const), frame: fc.constantFrom(0, 1, 2, 4), off: fc.integer({ min: 0, max: 0xff8 }), value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }) },
  { weight: 2, arbitrary: fc.constant({ t: "snapshot" as const }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("restore" as const), which: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("hook" as const), page }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("unhook" as const), which: fc.nat(7) }) },
);

/** The model: bytes by physical address (absent = 0), and the hook events a step should fire. */
class Model {
  ram = new Map<bigint, number>();
  dev = new Map<bigint, number>();
  snaps: Map<bigint, number>[] = [];
  hooks: number[] = []; // hooked linear pages, one per live hook, in creation order

  pa(va: bigint): bigint | undefined {
    const i = Number((va - VA0) >> 12n);
    return i >= 0 && i < FRAMES.length ? FRAMES[i]! + (va & 0xfffn) : undefined;
  }
  get(pa: bigint): number {
    return (isDev(pa) ? this.dev : this.ram).get(pa) ?? 0;
  }
  set(pa: bigint, b: number): void {
    (isDev(pa) ? this.dev : this.ram).set(pa, b);
  }
  /** Whether every byte of [va, va + len) is mapped. */
  mapped(va: bigint, len: number): boolean {
    return this.pa(va + BigInt(len) - 1n) !== undefined;
  }
  /** The write hook events of a single access: each hook whose page the access touches fires once, with the whole access. */
  singleEvents(va: bigint, size: number): string[] {
    const out: string[] = [];
    for (const p of this.hooks) {
      const s = VA0 + BigInt(p) * 0x1000n;
      if (va < s + 0x1000n && va + BigInt(size) > s) out.push(`${p}:${va.toString(16)}+${size}`);
    }
    return out;
  }
  /** The write hook events of a bulk copy: each hook fires once per piece (page) it covers, with the piece's range; pieces in order. */
  bulkEvents(va: bigint, len: number): string[] {
    const out: string[] = [];
    for (let a = va; a < va + BigInt(len); ) {
      const end = (a & ~0xfffn) + 0x1000n < va + BigInt(len) ? (a & ~0xfffn) + 0x1000n : va + BigInt(len);
      const pg = Number((a - VA0) >> 12n);
      for (const p of this.hooks) if (p === pg) out.push(`${p}:${a.toString(16)}+${Number(end - a)}`);
      a = end;
    }
    return out;
  }
}

function fuzzRig() {
  const mmu = new Mmu();
  const pt = mmu.createPageTable();
  FRAMES.forEach((pa, i) => pt.map(VA0 + BigInt(i) * 0x1000n, pa, 0x1000n, { flags: { writable: true } }));
  mmu.loadState({ ...LONG_MODE, cr3: pt.root });
  // A device that stores bytes: whatever pieces an access is cut into, its bytes read back as written.
  const regs = new Map<bigint, number>();
  mmu.mapDevice(DEV_PA, 0x2000n, {
    read: (pa, size) => {
      let v = 0n;
      for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(regs.get(pa + BigInt(i)) ?? 0);
      return v;
    },
    write: (pa, size, v) => {
      for (let i = 0; i < size; i++) regs.set(pa + BigInt(i), Number((v >> BigInt(8 * i)) & 0xffn));
    },
  });
  return mmu;
}

function check(mmu: Mmu, model: Model): void {
  for (const frame of FRAMES) {
    const bytes = isDev(frame) ? mmu.readBytes(VA0 + BigInt(FRAMES.indexOf(frame)) * 0x1000n, 0x1000) : mmu.memory.readBytes(frame, 0x1000);
    for (let i = 0; i < 0x1000; i++) {
      const want = model.get(frame + BigInt(i));
      if (bytes[i] !== want) throw new Error(`byte at physical 0x${(frame + BigInt(i)).toString(16)}: x86mmu ${bytes[i]}, model ${want}`);
    }
  }
}

function runOps(ops: Op[]): void {
  const mmu = fuzzRig();
  const model = new Model();
  const snaps: Snapshot<SavedRegisters>[] = [];
  const hooks: { remove: () => void }[] = [];
  let events: string[] = [];
  for (const [n, op] of ops.entries()) {
    const where = `step ${n} ${JSON.stringify(op, (_k, v) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v))}`;
    events = [];
    let expected: string[] = [];
    const va = "off" in op && "page" in op ? VA0 + BigInt(op.page) * 0x1000n + BigInt(op.off) : 0n;
    switch (op.t) {
      case "write": {
        if (!model.mapped(va, op.size)) {
          expect(() => mmu.write(va, op.size, BigInt.asUintN(op.size * 8, op.value)), where).toThrow(PageFault);
          break;
        }
        mmu.write(va, op.size, BigInt.asUintN(op.size * 8, op.value));
        for (let i = 0; i < op.size; i++) model.set(model.pa(va + BigInt(i))!, Number((op.value >> BigInt(8 * i)) & 0xffn));
        expected = model.singleEvents(va, op.size);
        break;
      }
      case "writeBytes": {
        const data = Uint8Array.from({ length: op.len }, (_, i) => (op.fill + i) & 0xff);
        if (!model.mapped(va, op.len)) {
          expect(() => mmu.writeBytes(va, data), where).toThrow(PageFault);
          break;
        }
        mmu.writeBytes(va, data);
        data.forEach((b, i) => model.set(model.pa(va + BigInt(i))!, b));
        expected = model.bulkEvents(va, op.len);
        break;
      }
      case "read": {
        if (!model.mapped(va, op.size)) {
          expect(() => mmu.read(va, op.size), where).toThrow(PageFault);
          break;
        }
        let want = 0n;
        for (let i = op.size - 1; i >= 0; i--) want = (want << 8n) | BigInt(model.get(model.pa(va + BigInt(i))!));
        expect(mmu.read(va, op.size), where).toBe(want);
        break;
      }
      case "readBytes": {
        if (!model.mapped(va, op.len)) {
          expect(() => mmu.readBytes(va, op.len), where).toThrow(PageFault);
          break;
        }
        const got = mmu.readBytes(va, op.len);
        for (let i = 0; i < op.len; i++) if (got[i] !== model.get(model.pa(va + BigInt(i))!)) throw new Error(`${where}: byte ${i} differs`);
        break;
      }
      case "phys": {
        const pa = FRAMES[op.frame]! + BigInt(op.off);
        mmu.memory.write(pa, 8, op.value);
        for (let i = 0; i < 8; i++) model.set(pa + BigInt(i), Number((op.value >> BigInt(8 * i)) & 0xffn));
        break;
      }
      case "snapshot":
        snaps.push(mmu.snapshot());
        model.snaps.push(new Map(model.ram));
        break;
      case "restore": {
        if (snaps.length === 0) break;
        const i = op.which % snaps.length;
        mmu.restore(snaps[i]!);
        model.ram = new Map(model.snaps[i]!);
        for (const s of snaps.slice(i + 1)) expect(s.valid, `${where}: a later snapshot ends`).toBe(false);
        expect(snaps[i]!.valid).toBe(true);
        snaps.length = i + 1;
        model.snaps.length = i + 1;
        break;
      }
      case "hook": {
        const p = op.page;
        hooks.push(mmu.addHook({ space: "linear", start: VA0 + BigInt(p) * 0x1000n, length: 0x1000n, ops: ["write"], before: (e: AccessEvent) => void events.push(`${p}:${e.va!.toString(16)}+${e.size}`) }));
        model.hooks.push(p);
        break;
      }
      case "unhook": {
        if (hooks.length === 0) break;
        const i = op.which % hooks.length;
        hooks[i]!.remove();
        hooks.splice(i, 1);
        model.hooks.splice(i, 1);
        break;
      }
    }
    expect(events, `${where}: hook events`).toEqual(expected);
    if (op.t !== "read" && op.t !== "readBytes") {
      events = [];
      check(mmu, model);
    }
  }
}

describe(`snapshots, hooks and MMIO agree with a byte-map model (${fuzzRuns} sequences)`, () => {
  it("random sequences of writes, copies, snapshots, restores, hooks and device accesses", () => {
    fc.assert(fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), (ops) => runOps(ops)), fuzzParams);
  }, Math.max(60_000, fuzzRuns * 2000));
});
