// Two built-ins that noble relies on and that old phone browsers lack:
// globalThis (Chrome 71) and Object.hasOwn (Chrome 93, Safari 15.4).
// BigInt sets the real floor: Chrome 67, Firefox 68, Safari 14.
// Imported before anything that loads noble; installs nothing on a modern browser.

if (typeof globalThis === 'undefined') {
  const root = typeof self !== 'undefined' ? self : window;
  root.globalThis = root;
}

if (typeof Object.hasOwn !== 'function') {
  Object.defineProperty(Object, 'hasOwn', {
    value: (object, key) => Object.prototype.hasOwnProperty.call(object, key),
    configurable: true,
    writable: true,
  });
}
