import { describe, expect, it } from 'vitest'
import { TuttiError } from '../core/errors.js'
import { AdminErrorCode, AdminRequestError } from '../protocols/admin/index.js'
import { asAdminError } from './admin-errors.js'
import { InferenceError, InferenceErrorCode, InvalidLimitError } from './inference/errors.js'
import { ModelNotFoundError } from './models/errors.js'

describe('the admin-error mapping', () => {
  it.each<[string, unknown, string, RegExp]>([
    ['a bad limit', new InvalidLimitError('cpu limit "x" is not a quantity'), AdminErrorCode.BadRequest, /^cpu limit "x"/],
    ['bad input', new InferenceError(InferenceErrorCode.InvalidInput, 'x is missing'), AdminErrorCode.BadRequest, /^x is missing$/],
    ['a model the runtime lacks', new InferenceError(InferenceErrorCode.ModelNotFound, 'clf is not loaded'), AdminErrorCode.NotFound, /^clf is not loaded \(searched\)$/],
    ['a model the store lacks', new ModelNotFoundError('clf@9'), AdminErrorCode.NotFound, /^no model clf@9 in this store \(searched\)$/],
    ['any other Tutti error', new TuttiError('ERR_MEMORY_LIMIT', 'too big'), 'ERR_MEMORY_LIMIT', /^too big$/]
  ])('maps %s to a stable code', (_what, err, code, message) => {
    const mapped = asAdminError(err, { notFoundHint: ' (searched)' }) as AdminRequestError
    expect(mapped).toBeInstanceOf(AdminRequestError)
    expect(mapped.code).toBe(code)
    expect(mapped.message).toMatch(message)
    expect(mapped.cause).toBe(err)
  })

  it('passes through admin errors and anything that is not a Tutti error', () => {
    const admin = new AdminRequestError(AdminErrorCode.BadRequest, 'no')
    const plain = new Error('boom')
    expect(asAdminError(admin)).toBe(admin)
    expect(asAdminError(plain)).toBe(plain)
  })
})
