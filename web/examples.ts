/** The scenarios of examples/, bundled into the page (one entry per scenario; a .jsonl file holds several). */

const files = import.meta.glob("../examples/*.{json,jsonl}", { query: "?raw", import: "default", eager: true }) as Record<string, string>;

export interface Example {
  /** "smap.json" or "crossing-and-canonical.jsonl #2". */
  label: string;
  /** The scenario in its JSON form (docs/scenario-format.md). */
  json: ScenarioJson;
}

export interface ScenarioJson {
  name: string;
  cpu: { cr0?: string; cr3?: string; cr4?: string; efer?: string; pkru?: string; pkrs?: string; maxphyaddr?: number; npt?: { ncr3: string; nxe?: boolean } };
  memory: { paddr: string; qwords?: string[]; fill?: string; count?: number }[];
  /** Accesses, and (the TLB extension) steps between them. */
  accesses: (AccessJson | StepJson)[];
}

export interface AccessJson {
  va: string;
  op: string;
  size?: number;
  cpl?: number;
  ac?: boolean;
  value?: string;
}

/** A TLB step (docs/scenario-format.md, "Extension: TLB steps"). */
export interface StepJson {
  step: "mov_cr3" | "invlpg" | "invpcid" | "store" | "flush";
  value?: string;
  va?: string;
  type?: number;
  pcid?: number;
  paddr?: string;
  size?: number;
}

export const isStep = (x: AccessJson | StepJson): x is StepJson => "step" in x;

export const examples: Example[] = Object.entries(files)
  .sort(([a], [b]) => a.localeCompare(b))
  .flatMap(([path, text]) => {
    const file = path.split("/").pop()!;
    if (file.endsWith(".jsonl")) {
      return text
        .split("\n")
        .filter((l) => l.trim())
        .map((l, i) => ({ label: `${file} #${i + 1}`, json: JSON.parse(l) as ScenarioJson }));
    }
    return [{ label: file, json: JSON.parse(text) as ScenarioJson }];
  });
