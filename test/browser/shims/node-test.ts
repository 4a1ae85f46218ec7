// node:test for test files bundled into the browser harness: test() collects, runCollected() runs them in order.
type Body = () => unknown | Promise<unknown>;
interface Options {
  skip?: boolean | string;
}
const collected: Array<{ name: string; skip: boolean | string; body: Body }> = [];

export function test(name: string, a?: Options | Body, b?: Body): void {
  const options = typeof a === 'object' ? a : {};
  const body = (typeof a === 'function' ? a : b) ?? (() => {});
  collected.push({ name, skip: options.skip ?? false, body });
}
export const it = test;

export interface TestOutcome {
  name: string;
  status: 'pass' | 'fail' | 'skip';
  error?: string;
}

/** Runs (and forgets) the collected tests. */
export async function runCollected(): Promise<TestOutcome[]> {
  const out: TestOutcome[] = [];
  for (const t of collected.splice(0)) {
    if (t.skip) {
      out.push({ name: t.name, status: 'skip', error: String(t.skip) });
      continue;
    }
    try {
      await t.body();
      out.push({ name: t.name, status: 'pass' });
    } catch (err) {
      out.push({ name: t.name, status: 'fail', error: String((err as Error)?.stack ?? err) });
    }
  }
  return out;
}

export default test;
