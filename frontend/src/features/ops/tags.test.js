// What a valid tag is, on the cases the API's validator and the database's CHECK
// are fed too (tests/cases/tags.json; tests/test_tag_rule.py): one rule, the
// same answer in the dashboard as in the API.
import { describe, expect, it } from 'vitest';
import cases from '../../../../tests/cases/tags.json';
import { TAG_PATTERN, tagProblem } from './tags.js';

// What the dashboard says for each kind of refusal the cases name.
const SAYS = {
  empty: /cannot be empty/,
  length: /at most 32 characters/,
  case: /lower case/,
  characters: /only a-z, 0-9/,
};

describe('the tag rule, on the shared cases', () => {
  it('has cases of every kind', () => {
    expect(cases.some((c) => c.valid)).toBe(true);
    expect(new Set(cases.filter((c) => !c.valid).map((c) => c.problem))).toEqual(new Set(Object.keys(SAYS)));
  });

  for (const { tag, valid, problem, why } of cases) {
    it(`${JSON.stringify(tag)} is ${valid ? 'valid' : `refused (${why})`}`, () => {
      if (valid) {
        expect(tagProblem(tag, [])).toBeNull();
        expect(TAG_PATTERN.test(tag)).toBe(true);
      } else {
        expect(tagProblem(tag, [])).toMatch(SAYS[problem]);
        expect(TAG_PATTERN.test(tag)).toBe(false);
      }
    });
  }
});
