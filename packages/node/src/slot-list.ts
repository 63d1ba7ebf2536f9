/**
 * A short unordered list that keeps its storage. The probes add and remove an entry per run and
 * per stage: an Array emptied by pop() is trimmed by V8 and reallocated at the next push, and a
 * Map keyed by ever-growing run ids rehashes every few runs, which was garbage at every stage.
 */
export class SlotList<T> {
  /** Entries 0 … length-1; the rest are undefined. */
  readonly items: (T | undefined)[] = [];
  length = 0;

  add(item: T): void {
    this.items[this.length++] = item;
  }

  includes(item: T): boolean {
    const items = this.items;
    for (let i = 0; i < this.length; i++) if (items[i] === item) return true;
    return false;
  }

  /** Removes `item` (the last entry takes its place); false if it was not there. */
  remove(item: T): boolean {
    const items = this.items;
    for (let i = 0; i < this.length; i++) {
      if (items[i] !== item) continue;
      const last = --this.length;
      items[i] = items[last];
      items[last] = undefined;
      return true;
    }
    return false;
  }

  clear(): void {
    this.items.fill(undefined, 0, this.length);
    this.length = 0;
  }
}
