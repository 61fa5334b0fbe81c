// Quick interleaved TLB-miss micro-benchmark, not part of the suite (no table, no verdicts): the batch miss path against the
// shared yardstick on hot tables and over 1 GiB, flushTlb per batch. Needs the bench build: run `npm run bench -- --only access --quick`
// once (it compiles bench/ and copies the yardstick), then: node bench/miss-micro.mjs [rounds] [case,case...]
import { x86 } from "../build/bench-out/lib.js";
import { buildYardstickWorld, distinctPages, yardSet, YARD_VA, MIB, GIB, HOT_SPAN } from "../build/bench-out/world.js";
import { walk, addresses, VA_HI } from "../build/bench-out/baselines/minimal-walker.mjs";
const N = 4096;
const acc = x86.encodeAccess({ op: "read", cpl: 3 });
const y = buildYardstickWorld();
const mmu = y.mmu;
const missHot = distinctPages(YARD_VA, 16 * MIB, N, 23);
const randLos = addresses(N, GIB, 54321);
const rand = yardSet(randLos);
const hotLos = Uint32Array.from(missHot.pairs.filter((_, i) => i % 2 === 0));
function yb(los, out) { let f = 0; for (let k = 0; k < N; k++) { const pa = walk(VA_HI, los[k], true); out[k] = pa; if (pa === -1) f++; } return f; }
const out = new Int32Array(N);
const bh = mmu.batch(N); 
const br = mmu.batch(N);
bh.input.set(missHot.bigs); br.input.set(rand.bigs);
const acc8 = x86.encodeAccess({ op: "read", size: 8, cpl: 3 });
const lr = mmu.batch(N); lr.input.set(rand.bigs);
const lh = mmu.batch(N); lh.input.set(missHot.bigs);
const only = process.argv[3];
const cases = {
  yardHot: () => yb(hotLos, out),
  coreHot: () => (mmu.flushTlb(), bh.translate(N, acc)),
  yardRand: () => yb(randLos, out),
  coreRand: () => (mmu.flushTlb(), br.translate(N, acc)),
  loadHot: () => (mmu.flushTlb(), lh.load(N, acc8)),
  loadRand: () => (mmu.flushTlb(), lr.load(N, acc8)),
};
for (const k of ["coreHot", "coreRand"]) if (cases[k]() !== 0) throw new Error("faults " + k);
for (const k of ["loadHot", "loadRand"]) if (cases[k]() !== N) throw new Error("faults " + k);
const names = only ? only.split(",") : Object.keys(cases);
const rounds = +(process.argv[2] ?? 7);
const res = Object.fromEntries(names.map((n) => [n, []]));
for (let r = 0; r < rounds; r++) for (const n of names) {
  const fn = cases[n]; const reps = 200;
  for (let i = 0; i < 20; i++) fn();
  const t0 = process.hrtime.bigint(); for (let i = 0; i < reps; i++) fn(); const t1 = process.hrtime.bigint();
  res[n].push(Number(t1 - t0) / reps / N);
}
const med = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
const m = Object.fromEntries(names.map((n) => [n, med(res[n])]));
for (const n of names) console.log(n.padEnd(10), m[n].toFixed(2), "ns");
if (m.yardHot && m.coreHot) console.log("hot ratio", (m.yardHot / m.coreHot).toFixed(2));
if (m.yardRand && m.coreRand) console.log("rand ratio", (m.yardRand / m.coreRand).toFixed(2));
