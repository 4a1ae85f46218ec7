// Writes docs/api.md, the API reference of bert-ts's public exports (src/index.ts), from the code itself: each
// export's kind, its signature as TypeScript prints it, and its doc comment (examples included where the comment
// has them). Run: npm run docs:api [-- OUT]  (test/package/api-docs.test.ts fails when docs/api.md is out of date).
import { writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'src', 'index.ts');

/** The sections of src/index.ts: an export goes under the section of the source folder it comes from. */
const SECTIONS: [string, string][] = [
  ['src/tokenizer', 'Tokenizers'],
  ['src/model/sentence', 'Sentence embeddings and rerankers'],
  ['src/model', 'Models'],
  ['src/pipelines', 'Pipelines'],
  ['src/server', 'Server'],
  ['src/train/losses', 'Embedding losses'],
  ['src/train', 'Training and evaluation'],
  ['src/data', 'Data'],
  ['src/io', 'File formats and the hub'],
  ['src/tensor', 'Tensors and kernels'],
  ['src/native', 'Native backend'],
  ['src/export', 'ONNX export'],
];

function kindOf(decl: ts.Declaration): string {
  if (ts.isClassDeclaration(decl)) return 'class';
  if (ts.isFunctionDeclaration(decl)) return 'function';
  if (ts.isInterfaceDeclaration(decl)) return 'interface';
  if (ts.isTypeAliasDeclaration(decl)) return 'type';
  if (ts.isVariableDeclaration(decl)) return 'const';
  if (ts.isEnumDeclaration(decl)) return 'enum';
  return 'export';
}

function docOf(checker: ts.TypeChecker, symbol: ts.Symbol): string {
  const text = ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim();
  const tags = symbol
    .getJsDocTags(checker)
    .filter((t) => t.name === 'example')
    .map((t) => ts.displayPartsToString(t.text));
  return [text, ...tags].filter(Boolean).join('\n\n');
}

/** The declaration's signature: the source text of a type / interface head, the checker's type otherwise. */
function signatureOf(checker: ts.TypeChecker, name: string, symbol: ts.Symbol, decl: ts.Declaration): string {
  const flags = ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseAliasDefinedOutsideCurrentScope;
  if (ts.isFunctionDeclaration(decl)) {
    const sigs = checker.getSignaturesOfType(checker.getTypeOfSymbolAtLocation(symbol, decl), ts.SignatureKind.Call);
    return sigs.map((s) => `function ${name}${checker.signatureToString(s, decl, flags)}`).join('\n');
  }
  if (ts.isClassDeclaration(decl)) {
    const ctor = checker
      .getSignaturesOfType(checker.getTypeOfSymbolAtLocation(symbol, decl), ts.SignatureKind.Construct)
      .map((s) => `new ${name}${checker.signatureToString(s, decl, flags).replace(/: [^:]*$/, '')}`);
    const statics = (decl.members ?? [])
      .filter((m) => ts.getCombinedModifierFlags(m) & ts.ModifierFlags.Static && m.name)
      .map((m) => `${name}.${m.name!.getText()}`);
    return [...ctor, ...(statics.length ? [`static: ${statics.join(', ')}`] : [])].join('\n');
  }
  if (ts.isVariableDeclaration(decl))
    return `const ${name}: ${checker.typeToString(checker.getTypeOfSymbolAtLocation(symbol, decl), decl, flags)}`;
  if (ts.isTypeAliasDeclaration(decl) || ts.isInterfaceDeclaration(decl)) {
    // Member doc comments stay: they document the fields.
    const text = decl.getText();
    return text.length > 4000 ? text.slice(0, 4000) + '\n  // ...' : text;
  }
  return name;
}

function main(): void {
  const program = ts.createProgram([entry], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    types: ['node'],
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(entry)!;
  const moduleSymbol = checker.getSymbolAtLocation(source)!;
  const bySection = new Map<string, string[]>();
  const exports = checker.getExportsOfModule(moduleSymbol).sort((a, b) => a.name.localeCompare(b.name));
  for (const exported of exports) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const decl =
      symbol.declarations?.find((d) => !ts.isInterfaceDeclaration(d) || symbol.declarations!.length === 1) ??
      symbol.declarations?.[0];
    if (!decl) continue;
    const file = relative(root, decl.getSourceFile().fileName);
    const section = SECTIONS.find(([dir]) => file.startsWith(dir + '/'))?.[1] ?? 'Other';
    const name = exported.name;
    const kind = kindOf(decl);
    const doc = docOf(checker, symbol);
    const entryText =
      `### ${name}\n\n\`${kind}\` in \`${file}\`\n\n` +
      '```ts\n' +
      signatureOf(checker, name, symbol, decl) +
      '\n```\n' +
      (doc ? `\n${doc}\n` : '');
    bySection.set(section, [...(bySection.get(section) ?? []), entryText]);
  }
  const order = [...SECTIONS.map(([, s]) => s), 'Other'].filter((s) => bySection.has(s));
  const out = [
    '# API reference',
    '',
    'Every public export of `bert-ts` (`src/index.ts`), generated from the code by `scripts/gen-api-docs.ts`',
    '(`npm run docs:api`): the kind, the signature as TypeScript prints it, and the doc comment, with its example',
    'where the comment has one. The [README](../README.md) is the guide (a first run, the `bert` command, using',
    'bert-ts in your project). Each entry names its source file in the repository (the package ships the built',
    'dist/). Do not edit by hand: change the doc comment and regenerate.',
    '',
    '## Contents',
    '',
    ...order.map(
      (s) =>
        `- [${s}](#${s
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replace(/ /g, '-')}) (${bySection.get(s)!.length})`,
    ),
    '',
    ...order.flatMap((s) => [`## ${s}`, '', ...bySection.get(s)!]),
  ].join('\n');
  writeFileSync(process.argv[2] ?? join(root, 'docs', 'api.md'), out.replace(/\n{3,}/g, '\n\n').trimEnd() + '\n');
}

main();
