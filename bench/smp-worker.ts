/**
 * One CPU of the SMP suite (suites/smp.ts) in a worker thread: attaches to
 * the machine, warms up, waits at the gate with the other workers, then
 * either times `batches` batch operations (throughput) or serves
 * shootdowns until told to stop.
 */

import { parentPort, workerData } from "node:worker_threads";
import { x86 } from "./lib.js";

interface Job {
  handle: Parameters<typeof x86.attachCpu>[0];
  index: number;
  cr3: bigint;
  kind: "hit" | "miss" | "load" | "serve";
  pages: number;
  batches: number;
  gate: SharedArrayBuffer;
  parties: number;
  seed: number;
}

const job = workerData as Job;
const cpu = x86.attachCpu(job.handle, job.index, { state: { ...x86.LONG_MODE, cr3: job.cr3 } });
const mmu = cpu.mmu;
const gate = new Int32Array(job.gate);
const N = 4096;
const VA = 0x40000000;

let s = job.seed >>> 0 || 1;
const next = (): number => {
  s ^= s << 13;
  s >>>= 0;
  s ^= s >>> 17;
  s ^= s << 5;
  return (s >>>= 0);
};

function arrive(): void {
  Atomics.add(gate, 0, 1);
  while (Atomics.load(gate, 0) < job.parties) {
    // the parties arrive within milliseconds
  }
}

if (job.kind === "serve") {
  // A CPU at work: every call may take a posted shootdown (gate[1] = 1 stops it).
  const read = x86.encodeAccess({ op: "read" });
  arrive();
  while (Atomics.load(gate, 1) === 0) mmu.translateNumber(VA, read);
  parentPort!.postMessage({ ns: 0 });
} else {
  const batch = mmu.batch(N);
  const read = x86.encodeAccess({ op: "read" });
  const load8 = x86.encodeAccess({ op: "read", size: 8 });
  // Hits: 64 hot pages. Misses: 32 sets of random pages over the mapping (the TLB holds 1024 of its 262144 pages).
  const sets: BigUint64Array[] = [];
  for (let k = 0; k < (job.kind === "miss" ? 32 : 1); k++) {
    const a = new BigUint64Array(N);
    for (let i = 0; i < N; i++) {
      const page = job.kind === "miss" ? next() % job.pages : next() % 64;
      a[i] = BigInt(VA + page * 4096 + (next() & 0xff8));
    }
    sets.push(a);
  }
  const op = (k: number): void => {
    batch.input.set(sets[k % sets.length]!);
    const r = job.kind === "load" ? batch.load(N, load8) : batch.translate(N, read);
    if ((job.kind === "load" && r !== N) || (job.kind !== "load" && r !== 0)) throw new Error(`smp bench: ${job.kind} batch went wrong (${r})`);
  };
  for (let k = 0, until = Date.now() + 150; Date.now() < until; k++) op(k);
  arrive();
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < job.batches; k++) op(k);
  const ns = Number(process.hrtime.bigint() - t0);
  parentPort!.postMessage({ ns });
}
cpu.detach();
