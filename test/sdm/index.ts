/** All hand-derived SDM conformance cases (see builder.ts and each cases-*.ts). */
import type { SdmCase } from "./builder.js";
import { presentCases } from "./cases-present.js";
import { usRwCases } from "./cases-us-rw.js";
import { xdCases } from "./cases-xd.js";
import { smepSmapCases } from "./cases-smep-smap.js";
import { pkCases } from "./cases-pk.js";
import { rsvdCases } from "./cases-rsvd.js";
import { sizeCanonicalCases } from "./cases-sizes-canonical.js";
import { adDataCases } from "./cases-ad-data.js";

export const sdmGroups: { topic: string; cases: SdmCase[] }[] = [
  { topic: "not-present and I/D", cases: presentCases },
  { topic: "U/S and R/W", cases: usRwCases },
  { topic: "execute-disable", cases: xdCases },
  { topic: "SMEP and SMAP", cases: smepSmapCases },
  { topic: "protection keys", cases: pkCases },
  { topic: "reserved bits", cases: rsvdCases },
  { topic: "page sizes, canonical, 5-level", cases: sizeCanonicalCases },
  { topic: "accessed/dirty, stores, page crossing", cases: adDataCases },
];

export const sdmCases: SdmCase[] = sdmGroups.flatMap((g) => g.cases);
