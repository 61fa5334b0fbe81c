/**
 * One CPU of a SharedMachine in a worker thread, for workers.test.ts: it
 * attaches, waits at a barrier so every worker starts together, runs one
 * task and posts its result.
 */
import { parentPort, workerData } from "node:worker_threads";
import { attachCpu, LONG_MODE, encodeAccess } from "../../dist/index.js";
import { xorshift32 } from "./xorshift.mjs";

const { handle, index, cr3, task } = workerData;
const cpu = attachCpu(handle, index, { state: { ...LONG_MODE, cr3 } });
const mmu = cpu.mmu;
const gate = new Int32Array(task.gate);

/** Every party arrives, then all go at once. */
function barrier() {
  Atomics.add(gate, 0, 1);
  while (Atomics.load(gate, 0) < task.parties) {
    // spin: the parties arrive within milliseconds
  }
}

const rng = xorshift32;

function shuffled(n, seed) {
  const next = rng(seed);
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = next() % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

function run() {
  switch (task.kind) {
    case "touch": {
      // Translate every page of the region, in this worker's own order, with op read or write.
      const acc = encodeAccess({ op: task.op });
      const order = shuffled(task.pages, task.seed);
      const batch = mmu.batch(task.pages);
      const input = batch.input;
      for (let i = 0; i < task.pages; i++) input[i] = BigInt(task.base + order[i] * 4096);
      barrier();
      const faults = batch.translate(task.pages, acc);
      return { faults };
    }
    case "bytes": {
      // Byte stores to every offset o of the region with o % parties == index (fresh frames: both allocate).
      const acc = encodeAccess({ op: "write", size: 1 });
      barrier();
      let faults = 0;
      for (let o = index - 1; o < task.bytes; o += task.parties) if (mmu.storeNumber(task.base + o, acc, index) !== 0) faults++;
      return { faults };
    }
    case "alloc": {
      barrier();
      const frames = [];
      for (let k = 0; k < task.count; k++) frames.push(mmu.memory.allocFrame());
      return { frames };
    }
    case "hammer": {
      // Random operations for task.ms: translations of the shared region, stores to this worker's slot,
      // frame allocation, and maps/unmaps of this worker's private window in the shared tree.
      const next = rng(task.seed);
      const read = encodeAccess({ op: "read" });
      const write4 = encodeAccess({ op: "write", size: 4 });
      const pt = mmu.activePageTable();
      const frames = [];
      const touched = new Set();
      const written = new Set();
      const own = new Map(); // private VA -> PA, as mapped at the end
      let value = 0;
      let ops = 0;
      barrier();
      const end = Date.now() + task.ms;
      while (Date.now() < end) {
        ops++;
        const r = next() % 100;
        if (r < 50) {
          const page = next() % task.pages;
          const isWrite = (next() & 1) === 1;
          const va = task.base + page * 4096 + 64 * index;
          if (isWrite) {
            if (mmu.storeNumber(va, write4, index) !== 0) throw new Error(`store to 0x${va.toString(16)} faulted`);
            written.add(page);
          } else if (mmu.translateNumber(va, read) < 0) throw new Error(`translate 0x${va.toString(16)} faulted`);
          touched.add(page);
        } else if (r < 80) {
          value = (value + 1) >>> 0;
          if (mmu.storeNumber(task.slot + 8 * index, write4, value) !== 0) throw new Error("slot store faulted");
        } else if (r < 90) {
          frames.push(mmu.memory.allocFrame());
        } else {
          const k = next() % 16;
          const va = BigInt(task.privateBase + index * 0x100000 + k * 4096);
          if (own.has(va)) {
            pt.unmap(va, 0x1000n);
            mmu.invlpg(va);
            own.delete(va);
          } else {
            const pa = mmu.memory.allocFrame();
            frames.push(pa);
            pt.map(va, pa, 0x1000n, { flags: { writable: true } });
            own.set(va, pa);
          }
        }
      }
      return { ops, value, frames, touched: [...touched], written: [...written], own: [...own] };
    }
    case "shootdown": {
      // Cache a translation, say so, then keep translating until it changes (the shootdown, taken at a call).
      const read = encodeAccess({ op: "read" });
      const first = mmu.translateNumber(task.va, read);
      const flag = new Int32Array(task.flag);
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      // Stale until the shootdown arrives: count the calls that still saw the old frame.
      let stale = 0;
      for (;;) {
        if (Atomics.load(flag, 0) === 2) break;
        if (mmu.translateNumber(task.va, read) === first) {
          stale++;
          Atomics.store(flag, 1, stale);
        }
      }
      const after = mmu.translateNumber(task.va, read);
      return { first, after, stale };
    }
    case "busy": {
      // Store an ever larger count to this CPU's slot, call after call, until flag[0] is 1.
      const write4 = encodeAccess({ op: "write", size: 4 });
      const flag = new Int32Array(task.flag);
      barrier();
      let count = 0;
      while (Atomics.load(flag, 0) === 0) {
        count++;
        if (mmu.storeNumber(task.slot, write4, count) !== 0) throw new Error("slot store faulted");
        Atomics.store(flag, 1, count);
      }
      return { count };
    }
    default:
      throw new Error(`unknown task ${task.kind}`);
  }
}

try {
  parentPort.postMessage({ result: run() });
} catch (e) {
  parentPort.postMessage({ error: String(e && e.stack || e) });
} finally {
  cpu.detach();
}
