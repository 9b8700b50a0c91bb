import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { AdminErrorCode, AdminRequestError } from '../protocols/admin/index.js'
import { adminParams, base64Bytes, boundedString, modelRef, rolloutName } from './admin-params.js'

function refusal (fn: () => unknown): AdminRequestError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(AdminRequestError)
    expect((err as AdminRequestError).code).toBe(AdminErrorCode.BadRequest)
    return err as AdminRequestError
  }
  throw new Error('expected an AdminRequestError')
}

describe('adminParams', () => {
  const schema = z.object({ name: rolloutName, ref: modelRef.optional(), envelope: base64Bytes('policy envelope', 6).optional() })

  it.each<[string, Record<string, unknown>, string]>([
    ['a missing field', {}, 'name: must be a rollout name'],
    ['a field of the wrong type', { name: 42 }, 'name: must be a rollout name'],
    ['an empty string', { name: '' }, 'name: must be a rollout name, not empty'],
    ['a string over its bound', { name: 'x'.repeat(64) }, 'name: must be a rollout name of at most 63 characters'],
    ['text that is not base64', { name: 'r', envelope: '!!!!' }, 'envelope: must be a base64 policy envelope'],
    ['base64 longer than its byte bound', { name: 'r', envelope: 'AAAAAAAAAAAA' }, 'envelope: must be a base64 policy envelope of at most 8 characters'],
    ['two bad fields', { name: 1, ref: '' }, 'name: must be a rollout name; ref: must be NAME, NAME@VERSION or a manifest CID, not empty']
  ])('refuses %s with ERR_BAD_REQUEST naming the field', (_, params, message) => {
    expect(refusal(() => adminParams(schema, params)).message).toBe(message)
  })

  it('returns the parsed params: decoded bytes, unknown fields dropped', () => {
    expect(adminParams(schema, { name: 'r', envelope: 'aGVsbG8=', extra: true })).toEqual({ name: 'r', envelope: new TextEncoder().encode('hello') })
  })

  it('names at most ten issues in one message', () => {
    const many = z.object(Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i}`, boundedString('a thing', 4)])))
    const message = refusal(() => adminParams(many, {})).message
    expect(message.split('; ')).toHaveLength(11)
    expect(message).toMatch(/^f0: must be a thing; .*f9: must be a thing; \(2 more\)$/)
  })
})
