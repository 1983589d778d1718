import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadScenarios, type LoadedScenarios, type Scenario } from '../../harness/scenario.js';

/** Write files (name → YAML text) into a fresh temporary folder; returns the folder. */
export function writeTree(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hookctl-harness-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

export async function loadText(yaml: string, name = 'scenario.yaml'): Promise<LoadedScenarios & { dir: string }> {
  const dir = writeTree({ [name]: yaml });
  return { ...(await loadScenarios([name], dir)), dir };
}

/** Load scenario text that must be valid. */
export async function scenariosFrom(yaml: string): Promise<Scenario[]> {
  const loaded = await loadText(yaml);
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new Error(`invalid test scenario: ${errors.map((d) => `${d.line}:${d.column} ${d.message}`).join('; ')}`);
  return loaded.scenarios;
}

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

/**
 * A strict little XML parser for the JUnit report: elements, attributes, text, the five
 * predefined entities and numeric references. Throws on anything malformed (unbalanced or
 * mismatched tags, raw `<` or `&` in text or attributes, unquoted or duplicate attributes).
 */
export function parseXml(xml: string): XmlElement {
  let at = 0;
  const fail = (why: string): never => {
    throw new Error(`malformed XML at ${at}: ${why}`);
  };
  const decode = (raw: string): string =>
    raw.replace(/&([^;]*);?/g, (whole, ref: string) => {
      if (!whole.endsWith(';')) fail(`bare & in ${JSON.stringify(raw)}`);
      const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
      if (ref in named) return named[ref] as string;
      const code = /^#x([0-9a-f]+)$/i.exec(ref) ? parseInt(ref.slice(2), 16) : /^#(\d+)$/.exec(ref) ? Number(ref.slice(1)) : fail(`unknown entity &${ref};`);
      return String.fromCodePoint(code);
    });
  const skipSpace = () => {
    while (/\s/.test(xml[at] ?? '')) at++;
  };
  const element = (): XmlElement => {
    if (xml[at] !== '<') fail('expected <');
    at++;
    const name = /^[A-Za-z_][\w.-]*/.exec(xml.slice(at))?.[0] ?? fail('expected a tag name');
    at += name.length;
    const attributes: Record<string, string> = {};
    for (;;) {
      skipSpace();
      if (xml.startsWith('/>', at)) {
        at += 2;
        return { name, attributes, children: [], text: '' };
      }
      if (xml[at] === '>') break;
      const m = /^([A-Za-z_][\w.-]*)="([^"]*)"/.exec(xml.slice(at)) ?? fail('expected attr="value"');
      const [whole, attr, raw] = m as unknown as [string, string, string];
      if (attr in attributes) fail(`duplicate attribute ${attr}`);
      if (raw.includes('<')) fail('< in attribute value');
      attributes[attr] = decode(raw);
      at += whole.length;
    }
    at++;
    const children: XmlElement[] = [];
    let text = '';
    for (;;) {
      if (at >= xml.length) fail(`unclosed <${name}>`);
      if (xml.startsWith('</', at)) {
        const close = /^<\/([\w.-]+)\s*>/.exec(xml.slice(at)) ?? fail('bad closing tag');
        if (close[1] !== name) fail(`</${close[1]}> closes <${name}>`);
        at += close[0].length;
        return { name, attributes, children, text: decode(text) };
      }
      if (xml[at] === '<') children.push(element());
      else text += xml[at++];
    }
  };
  if (xml.startsWith('<?xml')) at = xml.indexOf('?>') + 2;
  skipSpace();
  const root = element();
  skipSpace();
  if (at !== xml.length) fail('content after the root element');
  return root;
}
