// Two CPUs over one memory (README, "Several CPUs"): a stale TLB entry on
// CPU 1 after CPU 0 remaps a page, then the TLB shootdown that removes it.
import { Machine, LONG_MODE } from "x86mmu";

const hex = (v) => "0x" + v.toString(16);
const VA = 0x400000n;
const m = new Machine({ cpus: 2 });
const pt = m.cpu(0).mmu.createPageTable(); // changes made through CPU 0 invalidate CPU 0's TLB
pt.map(VA, 0x10000n, 0x1000n, { flags: { writable: true, user: true } });
for (const cpu of m.cpus) cpu.mmu.loadState({ ...LONG_MODE, cr3: pt.root });

console.log(`both CPUs: ${hex(VA)} -> ${hex(m.cpu(0).mmu.translate(VA))}, ${hex(m.cpu(1).mmu.translate(VA))}`);
pt.unmap(VA, 0x1000n);
pt.map(VA, 0x20000n, 0x1000n, { flags: { writable: true, user: true } });
console.log(`CPU 0 remapped it: CPU 0 -> ${hex(m.cpu(0).mmu.translate(VA))}, CPU 1 -> ${hex(m.cpu(1).mmu.translate(VA))} (stale)`);
const ticket = m.shootdown([1], { kind: "invlpg", va: VA });
console.log(`shootdown posted: done ${ticket.done}, waiting for CPU ${ticket.waiting}`);
console.log(`CPU 1's next access performs it: ${hex(m.cpu(1).mmu.translate(VA))}, done ${ticket.done}`);
