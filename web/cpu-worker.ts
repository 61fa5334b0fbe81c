/**
 * CPU 1 of the two-CPU card's run on real threads: a Web Worker that
 * attaches to the page's SharedMachine and translates when asked.
 */

import { attachCpu, LONG_MODE, type SharedMachineHandle, type SharedCpu } from "../src/browser.js";

let cpu: SharedCpu | undefined;

self.onmessage = (e: MessageEvent<{ handle?: SharedMachineHandle; cr3?: bigint; translate?: bigint }>) => {
  try {
    if (e.data.handle) {
      cpu = attachCpu(e.data.handle, 1, { state: { ...LONG_MODE, cr3: e.data.cr3! } });
      self.postMessage({ attached: true });
    } else if (e.data.translate !== undefined) {
      const pending = cpu!.pending.length;
      const pa = cpu!.mmu.translate(e.data.translate); // takes a posted shootdown first
      self.postMessage({ pa, took: pending });
    } else {
      cpu?.detach();
      self.postMessage({ detached: true });
    }
  } catch (err) {
    self.postMessage({ error: String(err) });
  }
};
