/**
 * Copies through owner-guarded readers and writers (VmReader / VmWriter over a
 * user VmSpace, CPL 3, 4 KiB pages), 8 B to 16 MiB, each copy as a caller
 * makes it: create and activate the token(s), copy, close; and `Mmu.readInto`
 * into the caller's buffer, the raw API's copy. Each size's cases are timed
 * in interleaved rounds (medians), so a slow spell of this shared machine
 * hits them all alike. Baselines, same bytes: `memory.copy` inside the core
 * (VM space to VM space) and `Uint8Array.prototype.set` (to or from a host
 * buffer).
 *
 * Skipped, with the reason, when the build has no owner-guarded I/O API.
 */

import { x86, loadOwnerIo, type OwnerIo, type VmSpaceLike, type Mmu } from "../lib.js";
import { interleavedGroup, rng, type BenchCase, type Ctx } from "../harness.js";
import { MemoryCopyBaseline, TypedArraySetBaseline } from "../baselines/copy.js";

const MIB = 1 << 20;
export const SPAN = 16 * MIB;
export const SRC_VA = 0x1000_0000n;
export const DST_VA = 0x2000_0000n;
const SRC_PA = 0x1000_0000n;
const DST_PA = 0x2000_0000n;

const SIZES: [string, number][] = [
  ["8 B", 8],
  ["64 B", 64],
  ["4 KiB", 4096],
  ["64 KiB", 64 * 1024],
  ["1 MiB", MIB],
  ["16 MiB", 16 * MIB],
];

/** A user space with 16 MiB source and destination regions (4 KiB pages, frames with storage, source random). */
export function copySpace(io: OwnerIo): { mmu: Mmu; space: VmSpaceLike; srcBytes: Uint8Array } {
  const mmu = new x86.Mmu();
  const space = io.VmSpace.create(mmu, { kind: "user" });
  space.activate();
  space.map(SRC_VA, SRC_PA, BigInt(SPAN), { size: "4K" });
  space.map(DST_VA, DST_PA, BigInt(SPAN), { size: "4K" });
  const rand = rng(99);
  const src = new Uint8Array(SPAN);
  for (let i = 0; i < SPAN; i += 4) src[i] = Math.floor(rand() * 256);
  mmu.memory.writeBytes(SRC_PA, src);
  mmu.memory.writeBytes(DST_PA, new Uint8Array(SPAN));
  return { mmu, space, srcBytes: src };
}

export async function run(ctx: Ctx): Promise<void> {
  const { io, why } = await loadOwnerIo();
  if (!io) {
    ctx.log(`copy: SKIPPED: ${why}`);
    return;
  }
  const { mmu, space, srcBytes } = copySpace(io);
  const mc = new MemoryCopyBaseline(SPAN);
  const ts = new TypedArraySetBaseline(SPAN);
  const hostSrc = srcBytes.slice();
  const hostDst = new Uint8Array(SPAN);

  // The copies move the right bytes.
  {
    const n = 64 * 1024 + 100;
    const r = space.reader(SRC_VA + 12n, BigInt(n));
    const w = space.writer(DST_VA + 7n, BigInt(n));
    const res = r.readFallible(w);
    r.close();
    w.close();
    const got = mmu.memory.readBytes(DST_PA + 7n, n);
    if (res.copied !== n || res.fault || got.some((b, i) => b !== srcBytes[12 + i])) throw new Error("bench: VM-to-VM copy moved the wrong bytes");
  }

  {
    const got = new Uint8Array(64 * 1024 + 100);
    mmu.readInto(SRC_VA + 12n, got, { cpl: 3 });
    if (got.some((b, i) => b !== srcBytes[12 + i])) throw new Error("bench: readInto read the wrong bytes");
  }

  for (const [label, size] of SIZES) {
    const len = BigInt(size);
    const hd = hostDst.subarray(0, size);
    const hs = hostSrc.subarray(0, size);
    const cases: BenchCase[] = [
      { name: "baseline: memory.copy in the core", unit: "copy", units: 1, fn: mc.copier(size) },
      { name: "baseline: Uint8Array.set", unit: "copy", units: 1, fn: ts.copier(size) },
      {
        name: "VmReader → VmWriter (VM space to VM space)",
        unit: "copy",
        units: 1,
        baseline: "baseline: memory.copy in the core",
        fn: () => {
          const r = space.reader(SRC_VA, len);
          const w = space.writer(DST_VA, len);
          r.readFallible(w);
          r.close();
          w.close();
        },
      },
      {
        name: "VmReader → host Uint8Array",
        unit: "copy",
        units: 1,
        baseline: "baseline: Uint8Array.set",
        fn: () => {
          const r = space.reader(SRC_VA, len);
          r.readFallible(io.InfallibleVmWriter.from(hd));
          r.close();
        },
      },
      {
        name: "Mmu.readInto → host Uint8Array (no owner layer)",
        unit: "copy",
        units: 1,
        baseline: "baseline: Uint8Array.set",
        fn: () => mmu.readInto(SRC_VA, hd, { cpl: 3 }),
      },
      {
        name: "host Uint8Array → VmWriter",
        unit: "copy",
        units: 1,
        baseline: "baseline: Uint8Array.set",
        fn: () => {
          const w = space.writer(DST_VA, len);
          w.writeFallible(io.InfallibleVmReader.from(hs));
          w.close();
        },
      },
    ];
    await interleavedGroup(ctx, "copy", label, cases);
  }
}
