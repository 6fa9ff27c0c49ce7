// A stand-in for a native binding that loads the real one on first property access.

/**
 * Returns an object that behaves like the binding `load()` returns, but calls `load` only when a
 * property is first read (then caches it). Lets a bundle import `netlink` at start-up while the
 * addon is written out and dlopened only by commands that open a netlink socket.
 */
export const lazyBinding = (load: () => object): object => {
  let binding: object | undefined
  const resolve = (): object => {
    binding ??= load()
    return binding
  }
  return new Proxy(
    {},
    {
      get: (_target, key) => Reflect.get(resolve(), key),
      has: (_target, key) => Reflect.has(resolve(), key),
      ownKeys: () => Reflect.ownKeys(resolve()),
      getOwnPropertyDescriptor: (_target, key) => {
        const descriptor = Reflect.getOwnPropertyDescriptor(resolve(), key)
        return descriptor === undefined ? undefined : { ...descriptor, configurable: true }
      }
    }
  )
}
