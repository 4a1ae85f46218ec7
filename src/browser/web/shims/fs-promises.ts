// node:fs/promises for the browser bundle: the in-memory file system's promise functions.
import { promises } from './fs.js';

export const { readFile, writeFile, mkdir, rm, stat, open } = promises;
export default promises;
