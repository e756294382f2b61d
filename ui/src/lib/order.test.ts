import { describe, expect, it } from 'vitest';
import { move } from './order';

describe('move', () => {
  it('moves an item and stops at the ends', () => {
    expect(move(['a', 'b', 'c'], 2, -1)).toEqual(['a', 'c', 'b']);
    expect(move(['a', 'b', 'c'], 0, -1)).toEqual(['a', 'b', 'c']);
    expect(move(['a', 'b', 'c'], 1, 5)).toEqual(['a', 'c', 'b']);
  });
});
