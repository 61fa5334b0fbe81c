/**
 * The benchmarks' full-check walker (bench/baselines/full-walker.ts) is a
 * baseline: its ratios mean something only if it does the core's work and
 * gets the core's answers. Over pages of every kind of rights, for reads,
 * writes and fetches at CPL 3 and 0 (with and without EFLAGS.AC), twice over
 * (the second pass served by its TLB, writes to clean pages missing it until
 * the walk sets D), at low and high addresses and under protection keys, it
 * must give the core's physical address or fault.
 */
import { describe, it, expect } from "vitest";
import { Mmu, LONG_MODE, encodeAccess } from "../src/index.js";
import { FullWalker, OP_READ, OP_WRITE, OP_FETCH } from "../bench/baselines/full-walker.js";

describe("the full-check walker baseline", () => {
  it("gives the core's answer for every access, TLB hits and dirty misses included", () => {
    const mmu = new Mmu();
    const pt = mmu.createPageTable();
    // 64 pages: rights cycling over writable, user and no-execute; some 2 MiB pages too.
    const kinds = [
      { writable: true, user: true },
      { writable: false, user: true },
      { writable: true, user: false },
      { writable: false, user: false },
      { writable: true, user: true, noExecute: true },
      { writable: false, user: true, noExecute: true },
    ];
    for (let i = 0; i < 64; i++) pt.map(0x400000n + BigInt(i) * 0x1000n, 0x800000n + BigInt(i) * 0x1000n, 0x1000n, { flags: kinds[i % kinds.length]! });
    pt.map(0x40000000n, 0x1000000n, 0x400000n, { size: "2M", flags: { writable: true, user: true } });
    // High addresses (the TLB tag's upper word) with protection keys 0-3: PKRU denies access to key 2, writes to key 3.
    for (let i = 0; i < 8; i++) pt.map(0x7f0000000000n + BigInt(i) * 0x1000n, 0x900000n + BigInt(i) * 0x1000n, 0x1000n, { flags: { writable: true, user: true, pkey: i % 4 } });
    // And a page whose number differs from 0x400000's only above bit 31: the same TLB slot and low tag word.
    pt.map(0x100000400000n, 0xa00000n, 0x1000n, { flags: { writable: true, user: true } });
    const pkru = (1 << (2 * 2)) | (2 << (2 * 3));
    mmu.loadState({ ...LONG_MODE, cr0: LONG_MODE.cr0 | (1n << 16n), cr3: pt.root, cr4: LONG_MODE.cr4 | (1n << 20n) | (1n << 21n) | (1n << 22n), pkru });
    const flat = new Uint32Array(mmu.memory.readBytes(0n, 0x1800000).buffer);
    const full = new FullWalker({ mem: flat, root: Number(pt.root), levels: 4, maxPhyAddr: mmu.state.maxPhyAddr, wp: true, nxe: true, smep: true, smap: true, pke: true, pks: false, pkru, pkrs: 0 });
    const high = Array.from({ length: 8 }, (_, i) => 0x7f0000000000 + i * 0x1000 + 0x40);
    const vas = [...Array.from({ length: 66 }, (_, i) => 0x400000 + i * 0x1000 + 0x18), 0x100000400000 + 0x18, 0x40000000 + 0x123458, 0x40200000 + 0x1ff000, ...high];
    const ops = [
      ["read", OP_READ],
      ["write", OP_WRITE],
      ["fetch", OP_FETCH],
    ] as const;
    let hits = 0;
    let faults = 0;
    for (let pass = 0; pass < 2; pass++) {
      for (const va of vas) {
        for (const [op, fop] of ops) {
          for (const [cpl, ac] of [[3, false], [0, false], [0, true]] as const) {
            const core = mmu.translateNumber(va, encodeAccess({ op, cpl, ac }));
            const ok = full.translate(va >>> 0, Math.floor(va / 2 ** 32), fop, cpl === 3, ac);
            expect(ok ? full.paLo + full.paHi * 2 ** 32 : -1, `${op} cpl ${cpl} ac ${ac} at 0x${va.toString(16)}, pass ${pass}`).toBe(core);
            if (core < 0) faults++;
            else if (pass === 1) hits++;
          }
        }
      }
    }
    expect(faults).toBeGreaterThan(100);
    expect(hits).toBeGreaterThan(100);
    // Both set the same accessed and dirty flags.
    const tables = new Uint32Array(mmu.memory.readBytes(0n, 0x1800000).buffer);
    let differ = 0;
    for (let i = 0; i < tables.length; i++) if (tables[i] !== flat[i]) differ++;
    expect(differ).toBe(0);
  });
});
