/**
 * @packageDocumentation
 * `/tutti/admin/1.0.0`: one length-prefixed protobuf request and response per stream. Any peer of
 * the fleet serves it; only the fleet's admin identities (the trust root in fleet.json) are
 * answered. Parameters and results are JSON inside the protobuf envelope.
 */
export * from './constants.js'
export * from './errors.js'
export { createAdminStreamHandler, callAdmin, describeDialError, parseJsonObject } from './admin.js'
export type { AdminContext, AdminHandler, AdminServerInit, AdminCallOptions } from './admin.js'
