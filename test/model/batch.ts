// A small padded batch of token ids shared by the model tests: two sequences of 6, the first ending in padding.
export const inputIds = [
  [2, 5, 9, 33, 7, 0],
  [4, 8, 15, 16, 23, 42],
];
export const attentionMask = [
  [1, 1, 1, 1, 1, 0],
  [1, 1, 1, 1, 1, 1],
];
