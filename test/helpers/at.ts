// Indexing in tests: the element a test relies on, or a test failure naming the missing index.
import assert from 'node:assert/strict';

/** items[i]; fails the test (saying which index and length) when there is no such element. */
export function at<T>(items: ArrayLike<T>, i: number): T {
  const item = items[i];
  assert.ok(item !== undefined, `expected an element at index ${i}, but there are ${items.length}`);
  return item;
}
