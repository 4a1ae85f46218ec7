// The word cache of the BPE and Unigram models: two generations, so that frequent words outlive a generation's end.
/**
 * Word → its tokens, at most 2 * `limit` words. When the current generation is full it becomes the previous one
 * (the one before is dropped); a word found only in the previous generation moves back into the current one. A
 * single map emptied when full would drop the frequent words too, and tokenize them again each time.
 */
export class WordCache<V> {
  private current = new Map<string, V>();
  private previous = new Map<string, V>();

  constructor(private readonly limit: number) {}

  get(word: string): V | undefined {
    const hit = this.current.get(word);
    if (hit !== undefined) return hit;
    const old = this.previous.get(word);
    if (old !== undefined) this.set(word, old);
    return old;
  }

  set(word: string, tokens: V): void {
    if (this.current.size >= this.limit) {
      this.previous = this.current;
      this.current = new Map();
    }
    this.current.set(word, tokens);
  }
}
