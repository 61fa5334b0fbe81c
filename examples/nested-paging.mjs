// Nested paging (AMD SVM NPT) in one page: a hypervisor's nested tables map
// the guest's physical memory, the guest's own tables map its linear
// addresses, and every access walks both. Run after building:
//   npm run build && node examples/nested-paging.mjs
import { Mmu, LONG_MODE, NestedPageFault, hex } from "x86mmu";

const mmu = new Mmu();
// Both trees take their frames from the allocator, from 1 MiB up (default).
const nested = mmu.createPageTable(); // the host's: guest-physical -> host-physical
const guest = mmu.createPageTable(); // the guest's: guest-linear -> guest-physical

// The guest maps its linear 0x400000 to its physical 0x200000.
guest.map(0x400000n, 0x200000n, 0x1000n, { flags: { writable: true, user: true } });
// The host backs the guest's first 2 MiB with the same host addresses (the
// guest's tables live there) and its page 0x200000 with host page 0x5000000.
// Nested entries are user entries: every nested access is a user access.
nested.map(0n, 0n, 0x200000n, { flags: { writable: true, user: true } });
nested.map(0x200000n, 0x5000000n, 0x1000n, { flags: { writable: true, user: true } });

mmu.loadState({ ...LONG_MODE, cr3: guest.root }); // the guest's registers
mmu.enterGuest({ ncr3: nested.root, asid: 1 }); // VMRUN with nested paging on

mmu.write(0x400010n, 8, 0x1122334455667788n, { cpl: 3 });
const p = mmu.probe(0x400010n);
console.log(`guest-linear 0x400010 -> guest-physical ${hex(p.guestPhysical)} -> host-physical ${hex(p.pa)}`);
console.log(`host memory at ${hex(p.pa)}: ${hex(mmu.memory.read(p.pa, 8))}`);

// The hypervisor makes the page read-only in the nested tables and, as it
// must, flushes the guest's ASID at the next VMRUN (TLB_CONTROL = 3).
nested.protect(0x200000n, 0x1000n, { writable: false, user: true });
mmu.enterGuest({ ncr3: nested.root, asid: 1 }, 3);
try {
  mmu.write(0x400010n, 8, 0n, { cpl: 3 });
} catch (e) {
  if (!(e instanceof NestedPageFault)) throw e;
  console.log(`write -> #VMEXIT(NPF): EXITINFO1 ${hex(e.exitinfo1)}, EXITINFO2 ${hex(e.exitinfo2)}`);
}
