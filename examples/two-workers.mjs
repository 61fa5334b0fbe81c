// Three CPUs on real threads over one shared memory (README, "Several CPUs"):
// CPU 0 here, CPUs 1 and 2 in two workers. Both workers cache a translation,
// CPU 0 remaps the page, the workers keep the stale entry until the TLB
// shootdown reaches them, and CPU 0 waits for both acknowledgements.
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { SharedMachine, attachCpu, LONG_MODE } from "x86mmu";

const hex = (v) => "0x" + v.toString(16);
const VA = 0x400000n;

if (isMainThread) {
  const machine = new SharedMachine({ cpus: 3 });
  const cpu0 = machine.attach(0);
  const pt = cpu0.mmu.createPageTable();
  pt.map(VA, 0x10000n, 0x1000n, { flags: { writable: true, user: true } });
  cpu0.mmu.loadState({ ...LONG_MODE, cr3: pt.root });

  // Each worker attaches one CPU to the machine's memory (machine.handle is structured-cloneable).
  const workers = [1, 2].map((index) => new Worker(new URL(import.meta.url), { workerData: { handle: machine.handle, index, cr3: pt.root } }));
  const ask = (w, what) => new Promise((resolve) => (w.once("message", resolve), w.postMessage(what)));
  const translateOnWorkers = () => Promise.all(workers.map((w) => ask(w, "translate")));

  console.log(`CPUs 1 and 2 translate ${hex(VA)}: ${(await translateOnWorkers()).map(hex).join(", ")}`);
  pt.unmap(VA, 0x1000n);
  pt.map(VA, 0x20000n, 0x1000n, { flags: { writable: true, user: true } });
  cpu0.mmu.invlpg(VA);
  console.log(`CPU 0 remapped it: CPU 0 -> ${hex(cpu0.mmu.translate(VA))}; CPUs 1 and 2 -> ${(await translateOnWorkers()).map(hex).join(", ")} (stale)`);
  const ticket = cpu0.shootdown([1, 2], { kind: "invlpg", va: VA });
  console.log(`shootdown posted: done ${ticket.done}, waiting for CPUs ${ticket.waiting.join(" and ")}`);
  const after = await translateOnWorkers(); // each worker's next call takes the shootdown, then walks
  console.log(`their next translations: ${after.map(hex).join(", ")}; acknowledged by both: ${await ticket.waitAsync(5000)}`);
  for (const w of workers) await ask(w, "exit");
} else {
  const { handle, index, cr3 } = workerData;
  const cpu = attachCpu(handle, index, { state: { ...LONG_MODE, cr3 } });
  parentPort.on("message", (what) => {
    if (what === "translate") parentPort.postMessage(cpu.mmu.translate(VA));
    else {
      cpu.detach();
      parentPort.postMessage("bye");
      parentPort.close();
    }
  });
}
