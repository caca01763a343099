// Validate an AsyncAPI document with the official parser; exit 1 on any error diagnostic.
import { Parser } from '@asyncapi/parser';
import fs from 'fs';
const parser = new Parser();
const doc = fs.readFileSync(process.argv[2], 'utf8');
const { document, diagnostics } = await parser.parse(doc);
const errors = diagnostics.filter(d => d.severity === 0);
console.log(`diagnostics: ${diagnostics.length}, errors: ${errors.length}`);
for (const d of diagnostics.slice(0, 15)) console.log(d.severity, d.code, d.message, JSON.stringify(d.path));
process.exit(errors.length ? 1 : 0);
