/*
 * Unfold's app.js gives every <input type=file> a "change" listener that writes the
 * chosen file's name into a text box three levels up (its own file widget). CKEditor's
 * upload button hides a file input of its own with no such box, so every upload threw
 * "TypeError: Cannot read properties of null (reading 'setAttribute')".
 *
 * Unfold skips inputs whose `hasChangeListener` is already true: CKEditor's inputs
 * (inside a `.ck` element) now say so, whenever Unfold looks. Loaded with the post
 * form's media, before app.js.
 */
(() => {
  const own = new WeakMap();
  Object.defineProperty(HTMLInputElement.prototype, "hasChangeListener", {
    configurable: true,
    get() {
      return own.get(this) === true || this.closest(".ck") !== null;
    },
    set(value) {
      own.set(this, value);
    },
  });
})();
