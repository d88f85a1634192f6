/**
 * Files: PNG encoding and a `tf.io` handler for the file system.
 *
 * @module
 */
export * from "./png.ts";
export * from "./file_handler.ts";
