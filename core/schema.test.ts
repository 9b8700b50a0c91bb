import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { formatIssues, issuePath, schemaIssues } from './schema.js'

describe('schema issues', () => {
  it.each<[PropertyKey[], string]>([[[], ''], [['kind'], 'kind'], [['admins', 0, 'peerId'], 'admins[0].peerId'], [['spec', 'steps', 2, 'setPercent'], 'spec.steps[2].setPercent']])('writes the path %j as %s', (path, text) => {
    expect(issuePath(path)).toBe(text)
  })

  it('names each failing field in one line', () => {
    const schema = z.object({ a: z.number({ error: 'must be a number' }), b: z.array(z.string({ error: 'must be a string' })) })
    const parsed = schema.safeParse({ a: 'x', b: ['ok', 3] })
    expect(parsed.success).toBe(false)
    expect(formatIssues(schemaIssues(parsed.error!))).toBe('a: must be a number; b[1]: must be a string')
  })
})
