/**
 * Owner checks: the cost of a gated 64-byte copy with 1, 100 and 10,000
 * registered tokens in the space (besides the benchmark's own long-lived
 * reader and writer and the per-copy tokens). These tokens are activated readers and
 * writers (alternating) over their own 4 KiB pages; each writer's view is
 * split off the space's remaining view, so that view has ~K pieces.
 *
 * Groups: a VM-to-VM copy creating, activating and closing its reader and
 * writer (what the owner checks gate: overlap queries, view borrow/split,
 * physical-alias registry); and copies through one long-lived reader (VM to
 * host) or writer (host to VM), where only the per-copy gate runs. Each
 * group's cases are the three spaces, timed in interleaved rounds.
 */

import { loadOwnerIo } from "../lib.js";
import { interleavedGroup, type BenchCase, type Ctx } from "../harness.js";
import { copySpace, SRC_VA, DST_VA, SPAN } from "./copy.js";

const TOK_VA = 0x4000_0000n;
const TOK_PA = 0x4000_0000n;

interface World {
  k: number;
  cases: BenchCase[];
  close(): void;
}

/** A space with `k` extra activated tokens and the three copy cases over it. */
function world(ctx: Ctx, io: NonNullable<Awaited<ReturnType<typeof loadOwnerIo>>["io"]>, k: number): World {
  const { space } = copySpace(io);
  space.map(TOK_VA, TOK_PA, BigInt(k) * 4096n, { size: "4K" });
  const held: { close(): void }[] = [];
  const t0 = Date.now();
  for (let i = 0; i < k; i++) {
    const va = TOK_VA + BigInt(i) * 4096n;
    held.push(i % 2 === 0 ? space.reader(va, 4096n) : space.writer(va, 4096n));
  }
  ctx.log(`  owner: ${k} extra tokens registered and activated in ${Date.now() - t0} ms`);
  const buf = new Uint8Array(64);
  const src64 = new Uint8Array(64).fill(7);
  let reader = space.reader(SRC_VA, BigInt(SPAN));
  // The long-lived writer leaves room for the per-copy writers' range.
  let writer = space.writer(DST_VA, BigInt(SPAN) - 0x100000n);
  let off = 0n;
  const name = `${k} registered token${k > 1 ? "s" : ""}`;
  const cases: BenchCase[] = [
    {
      name,
      note: "gated copy 64 B, VM → VM, tokens created per copy",
      unit: "copy",
      units: 1,
      fn: () => {
        // Ranges clear of the long-lived tokens below: they cover SRC and DST entirely,
        // so this case reads from the other half of its own reader's range.
        off = (off + 64n) & 0xfffffn;
        const r = space.reader(SRC_VA + off, 64n);
        const w = space.writer(DST_VA + BigInt(SPAN) - 0x100000n + off, 64n);
        r.readFallible(w);
        r.close();
        w.close();
      },
    },
    {
      name,
      note: "gated copy 64 B, VM → host, one reader token",
      unit: "copy",
      units: 1,
      fn: () => {
        if (reader.remain < 64) {
          reader.close();
          reader = space.reader(SRC_VA, BigInt(SPAN));
        }
        reader.readFallible(io.InfallibleVmWriter.from(buf));
      },
    },
    {
      name,
      note: "gated copy 64 B, host → VM, one writer token",
      unit: "copy",
      units: 1,
      fn: () => {
        if (writer.avail < 64) {
          writer.close();
          writer = space.writer(DST_VA, BigInt(SPAN) - 0x100000n);
        }
        writer.writeFallible(io.InfallibleVmReader.from(src64));
      },
    },
  ];
  return {
    k,
    cases,
    close: () => {
      reader.close();
      writer.close();
      for (const h of held) h.close();
    },
  };
}

export async function run(ctx: Ctx): Promise<void> {
  const { io, why } = await loadOwnerIo();
  if (!io) {
    ctx.log(`owner: SKIPPED: ${why}`);
    return;
  }
  // One group per kind of copy, its cases the spaces with 1, 100 and 10,000 tokens, in interleaved
  // rounds: the ratio of 10,000 to 1 is measured side by side.
  const worlds = [1, 100, 10000].map((k) => world(ctx, io, k));
  for (let c = 0; c < 3; c++) {
    const group = worlds[0]!.cases[c]!.note!;
    const one = worlds[0]!.cases[c]!.name;
    await interleavedGroup(
      ctx,
      "owner",
      group,
      worlds.map((w, i) => ({ ...w.cases[c]!, note: undefined, baseline: i === 0 ? undefined : one })),
    );
  }
  for (const w of worlds) w.close();
}
