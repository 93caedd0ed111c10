/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS on purpose (see below) */
/**
 * The failure converter the worker loads by path (`DataConverter.failureConverterPath`): the SDK `require()`s it in
 * the worker and webpack bundles it into the workflow sandbox. With `encodeCommonAttributes`, failure messages and
 * stack traces travel as a payload, so the payload codec encrypts them too.
 *
 * Written as plain CommonJS JavaScript inside a `.cts` file: Node loads it without a compiler when running from
 * source (tests, tsx), and tsc emits it as `failureConverter.cjs` next to the compiled `dataConverter.js`.
 */
'use strict';
const { DefaultFailureConverter } = require('@temporalio/common');

exports.failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
