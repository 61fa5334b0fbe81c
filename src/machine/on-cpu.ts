/**
 * How a CPU's `mmu` is made: a view of one Mmu that runs a step before every
 * call (switch to this CPU, or take its pending shootdowns).
 */

import { PageTable, LegacyPageTable } from "../mmu/index.js";
import { Batch } from "../mmu/batch.js";

/**
 * A view of `target` whose every method call and property access runs
 * `enter` first (so it acts on the CPU `enter` makes current), and `leave`
 * after it, however it ends, when given; Batch and
 * page-table objects it returns are wrapped the same way, so they keep
 * acting on that CPU. The view is a plain object with one wrapper per member
 * (not a Proxy: a call costs one extra function call, no trap), and
 * `instanceof` still recognises it.
 */
export function onCpu<T extends object>(target: T, enter: () => void, leave?: () => void): T {
  const view = Object.create(Object.getPrototypeOf(target) as object) as Record<PropertyKey, unknown>;
  const t = target as Record<PropertyKey, unknown>;
  const done = new Set<PropertyKey>(["constructor"]);
  const wrap = (r: unknown): unknown => (r instanceof Batch || r instanceof PageTable || r instanceof LegacyPageTable ? onCpu(r, enter, leave) : r);
  /** Runs `f` between enter and leave. */
  const around = leave
    ? <R>(f: () => R): R => {
        enter();
        try {
          return f();
        } finally {
          leave();
        }
      }
    : <R>(f: () => R): R => (enter(), f());
  const define = (key: PropertyKey, d: PropertyDescriptor): void => {
    if (done.has(key)) return;
    done.add(key);
    if (typeof d.value === "function") {
      const fn = d.value as (...a: unknown[]) => unknown;
      Object.defineProperty(view, key, {
        value: leave
          ? (...args: unknown[]) => {
              enter();
              try {
                return wrap(fn.apply(target, args));
              } finally {
                leave();
              }
            }
          : (...args: unknown[]) => {
              enter();
              return wrap(fn.apply(target, args));
            },
      });
    } else if (d.get || d.set) {
      const { get, set } = d;
      Object.defineProperty(view, key, {
        get: get && (() => around(() => get.call(target))),
        set: set && ((v: unknown) => around(() => set.call(target, v))),
      });
    } else {
      Object.defineProperty(view, key, { get: () => around(() => t[key]), set: (v: unknown) => around(() => void (t[key] = v)) });
    }
  };
  for (const key of Reflect.ownKeys(target)) define(key, Object.getOwnPropertyDescriptor(target, key)!);
  for (let p = Object.getPrototypeOf(target) as object | null; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const key of Reflect.ownKeys(p)) define(key, Object.getOwnPropertyDescriptor(p, key)!);
  }
  return view as T;
}
