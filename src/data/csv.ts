// RFC 4180 CSV parsing: quoted fields, doubled quotes, commas and newlines inside quotes, CRLF or LF line ends.
import { DataError } from './errors.js';

/** One parsed record and the 1-based line where it starts (for error messages). */
export interface CsvRecord {
  line: number;
  fields: string[];
}

/**
 * Parses CSV text into records. A quote is only special at the start of a field (RFC 4180); a stray quote inside
 * an unquoted field is kept literally, as Python's csv module does. An unterminated quoted field is an error
 * naming the line where it opened, since silently swallowing the rest of the file would lose data.
 */
export function parseCsv(text: string, source = '<csv>', delimiter = ','): CsvRecord[] {
  const out: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let i = 0;
  let atFieldStart = true;
  let fieldWasQuoted = false;
  const n = text.length;
  const endRecord = (): void => {
    fields.push(field);
    // A blank line is not a record (a trailing newline at EOF is common).
    if (!(fields.length === 1 && fields[0] === '' && !fieldWasQuoted)) out.push({ line: recordLine, fields });
    fields = [];
    field = '';
    atFieldStart = true;
    fieldWasQuoted = false;
  };
  while (i < n) {
    const c = text[i]!;
    if (atFieldStart && c === '"') {
      fieldWasQuoted = true;
      atFieldStart = false;
      const openLine = line;
      i++;
      // Copy runs between quotes with slice: char-by-char concatenation is slow on 100 MB review files.
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) throw new DataError(`${source}:${openLine}`, `quoted field opened here is never closed`);
        const chunk = text.slice(i, q);
        for (let j = chunk.indexOf('\n'); j >= 0; j = chunk.indexOf('\n', j + 1)) line++;
        field += chunk;
        if (text[q + 1] === '"') {
          field += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      continue;
    }
    atFieldStart = false;
    if (c === delimiter) {
      fields.push(field);
      field = '';
      atFieldStart = true;
      fieldWasQuoted = false;
      i++;
    } else if (c === '\r' && text[i + 1] === '\n') {
      endRecord();
      i += 2;
      line++;
      recordLine = line;
    } else if (c === '\n') {
      endRecord();
      i++;
      line++;
      recordLine = line;
    } else {
      field += c;
      i++;
    }
  }
  if (field !== '' || fields.length > 0 || fieldWasQuoted) endRecord();
  return out;
}
