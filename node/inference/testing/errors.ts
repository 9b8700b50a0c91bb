/** The `code` of what `fn` throws, or undefined when it returns: for table tests of typed errors. */
export function thrownCode (fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return (err as { code?: string }).code
  }
  return undefined
}
