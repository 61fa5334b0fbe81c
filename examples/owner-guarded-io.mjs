// Owner-guarded memory I/O in a few lines: a process address space that
// shares a kernel half, readers and writers whose every copy is gated, a
// refused overlapping writer, a refused aliasing reader, and a copy that
// faults half-way. Run after building: npm run build && node examples/owner-guarded-io.mjs
import { Mmu, VmSpace, OwnershipError, InfallibleVmWriter } from "x86mmu";

const mmu = new Mmu();
const kernel = VmSpace.create(mmu, { kind: "kernel" });
const proc = VmSpace.create(mmu, { kernel }); // a user space sharing the kernel half
proc.mapFresh(0x400000n, 0x3000n); // three user pages (user + writable)
proc.activate(); // CR3 <- proc's root (turns on long mode)

// The common path: one line, always closed.
proc.withWriter(0x400000n, 16, (w) => w.writeBytes(new TextEncoder().encode("hello, x86mmu!")));
const text = proc.withReader(0x400000n, 14, (r) => new TextDecoder().decode(r.collect()));
console.log(`read back: "${text}"`);

// The explicit lifecycle: create, activate, use, dispose, remove.
const w = proc.createWriter(0x401000n, 0x1000);
w.activate();
w.writeVal(8, 0xdeadbeefcafef00dn);
console.log(`writer #${w.token.id} holds ${w.token.memView.kind} over ${w.token.memView.view}`);
try {
  proc.reader(0x401800n, 8); // a reader over a writer
} catch (e) {
  if (!(e instanceof OwnershipError)) throw e;
  console.log(`refused (${e.rule}): ${e.message}`);
}
w.dispose();
w.remove();

// Physical aliasing: the same frame through a second virtual address.
const frame = proc.query(0x402000n).pa;
proc.map(0x500000n, frame, 0x1000n);
const w2 = proc.writer(0x402000n, 0x100); // in TypeScript: `using w2 = ...` closes it at block end
try {
  proc.reader(0x500000n, 8);
} catch (e) {
  console.log(`refused (${e.rule}): ${e.message}`);
}
w2.close();

// A fallible copy that faults in the middle: the third page becomes supervisor-only.
proc.protect(0x402000n, 0x1000n, { writable: true, user: false });
const out = new Uint8Array(0x2000);
const r = proc.reader(0x401000n, 0x2000);
const { copied, fault } = r.readFallible(InfallibleVmWriter.from(out));
console.log(`copied ${copied} bytes, then ${fault.message}`);
console.log(`first value read: 0x${r.cursor === 0x402000n ? new DataView(out.buffer).getBigUint64(0, true).toString(16) : "?"}`);
r.close();
console.log(`inv() holds: ${proc.owner.inv()}`);
