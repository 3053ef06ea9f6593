/**
 * A small QR code encoder (ISO/IEC 18004), written for this app so the card's live code can be
 * drawn offline without a CDN or a build step.
 *
 * Scope: one segment in alphanumeric mode (digits, upper-case letters, space and $%*+-./:) when
 * the text allows it, else byte mode (UTF-8); versions 1 to 10; error-correction level M
 * (about 15 % of the symbol may be damaged). That covers everything the app shows: an LW2 code
 * is 39 alphanumeric characters (version 3), an LW1 code 142 (version 6), a coupon code 16
 * (version 1). Longer texts throw a RangeError rather than render something unreadable.
 *
 * The steps are the standard's: encode the text into data codewords, pad them, split them into
 * blocks, add Reed-Solomon error-correction codewords per block over GF(256) (primitive
 * polynomial 0x11D), interleave the blocks, place the bits in the two-column zig-zag around the
 * function patterns (finders, timing, alignment, format and version information), then try all
 * eight masks and keep the one with the lowest penalty score.
 */

const ALPHANUMERIC_CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
const MAX_VERSION = 10;

// Level M per version: error-correction codewords per block, then [block count, data codewords
// per block] for each block group (ISO/IEC 18004 table 9).
const LEVEL_M_BLOCKS = [
  null,
  [10, [1, 16]],
  [16, [1, 28]],
  [26, [1, 44]],
  [18, [2, 32]],
  [24, [2, 43]],
  [16, [4, 27]],
  [18, [4, 31]],
  [22, [2, 38], [2, 39]],
  [22, [3, 36], [2, 37]],
  [26, [4, 43], [1, 44]],
];

// Row/column coordinates of the alignment pattern centres (annex E).
const ALIGNMENT_CENTRES = [
  null,
  [],
  [6, 18],
  [6, 22],
  [6, 26],
  [6, 30],
  [6, 34],
  [6, 22, 38],
  [6, 24, 42],
  [6, 26, 46],
  [6, 28, 50],
];

const LEVEL_M_FORMAT_BITS = 0b00;
const FORMAT_MASK_PATTERN = 0x5412;
const FORMAT_GENERATOR = 0x537;
const VERSION_GENERATOR = 0x1f25;
const PAD_CODEWORDS = [0xec, 0x11];

const MODE = {
  alphanumeric: { indicator: 0b0010, countBits: (version) => (version < 10 ? 9 : 11) },
  byte: { indicator: 0b0100, countBits: (version) => (version < 10 ? 8 : 16) },
};

// GF(256) exponent and logarithm tables for the primitive polynomial x^8+x^4+x^3+x^2+1.
const GF_EXP = new Uint8Array(512);
const GF_LOG = new Uint8Array(256);
(function buildGaloisTables() {
  let value = 1;
  for (let power = 0; power < 255; power++) {
    GF_EXP[power] = value;
    GF_LOG[value] = power;
    value <<= 1;
    if (value & 0x100) value ^= 0x11d;
  }
  for (let power = 255; power < 512; power++) GF_EXP[power] = GF_EXP[power - 255];
})();

function gfMultiply(a, b) {
  if (a === 0 || b === 0) return 0;
  return GF_EXP[GF_LOG[a] + GF_LOG[b]];
}

/** Return the Reed-Solomon generator polynomial of a degree, highest power first. */
function reedSolomonGenerator(degree) {
  let polynomial = [1];
  for (let root = 0; root < degree; root++) {
    const product = new Array(polynomial.length + 1).fill(0);
    polynomial.forEach((coefficient, index) => {
      product[index] ^= coefficient;
      product[index + 1] ^= gfMultiply(coefficient, GF_EXP[root]);
    });
    polynomial = product;
  }
  return polynomial;
}

/** Return the error-correction codewords of one block: the remainder of data * x^n / g(x). */
function reedSolomonRemainder(data, generator) {
  const degree = generator.length - 1;
  const remainder = new Array(degree).fill(0);
  for (const codeword of data) {
    const factor = codeword ^ remainder.shift();
    remainder.push(0);
    for (let index = 0; index < degree; index++) {
      remainder[index] ^= gfMultiply(generator[index + 1], factor);
    }
  }
  return remainder;
}

/** Collect bits most significant first. */
class BitBuffer {
  constructor() {
    this.bits = [];
  }

  append(value, length) {
    for (let shift = length - 1; shift >= 0; shift--) this.bits.push((value >>> shift) & 1);
  }
}

function dataCodewordCount(version) {
  const [, ...groups] = LEVEL_M_BLOCKS[version];
  return groups.reduce((total, [blocks, perBlock]) => total + blocks * perBlock, 0);
}

function chooseMode(text) {
  return [...text].every((symbol) => ALPHANUMERIC_CHARSET.includes(symbol))
    ? "alphanumeric"
    : "byte";
}

function appendPayload(buffer, mode, text, bytes) {
  if (mode === "byte") {
    for (const byte of bytes) buffer.append(byte, 8);
    return;
  }
  const values = [...text].map((symbol) => ALPHANUMERIC_CHARSET.indexOf(symbol));
  for (let index = 0; index + 1 < values.length; index += 2) {
    buffer.append(values[index] * 45 + values[index + 1], 11);
  }
  if (values.length % 2) buffer.append(values[values.length - 1], 6);
}

function payloadBitLength(mode, text, bytes) {
  if (mode === "byte") return bytes.length * 8;
  return Math.floor(text.length / 2) * 11 + (text.length % 2) * 6;
}

/** Encode the text into the padded data codewords of the smallest version that holds it. */
function encodeData(text) {
  const mode = chooseMode(text);
  const bytes = new TextEncoder().encode(text);
  const count = mode === "byte" ? bytes.length : text.length;
  for (let version = 1; version <= MAX_VERSION; version++) {
    const countBits = MODE[mode].countBits(version);
    const capacity = dataCodewordCount(version) * 8;
    if (count >= 2 ** countBits) continue;
    if (4 + countBits + payloadBitLength(mode, text, bytes) > capacity) continue;
    const buffer = new BitBuffer();
    buffer.append(MODE[mode].indicator, 4);
    buffer.append(count, countBits);
    appendPayload(buffer, mode, text, bytes);
    buffer.append(0, Math.min(4, capacity - buffer.bits.length));
    buffer.append(0, (8 - (buffer.bits.length % 8)) % 8);
    const codewords = [];
    for (let index = 0; index < buffer.bits.length; index += 8) {
      codewords.push(buffer.bits.slice(index, index + 8).reduce((byte, bit) => (byte << 1) | bit));
    }
    for (let pad = 0; codewords.length < capacity / 8; pad++) {
      codewords.push(PAD_CODEWORDS[pad % 2]);
    }
    return { version, mode, codewords };
  }
  throw new RangeError(`text too long for a version ${MAX_VERSION}-M QR code`);
}

/** Split data codewords into blocks, add error correction, and interleave everything. */
function addErrorCorrection(version, data) {
  const [ecPerBlock, ...groups] = LEVEL_M_BLOCKS[version];
  const generator = reedSolomonGenerator(ecPerBlock);
  const dataBlocks = [];
  let offset = 0;
  for (const [blocks, perBlock] of groups) {
    for (let block = 0; block < blocks; block++) {
      dataBlocks.push(data.slice(offset, offset + perBlock));
      offset += perBlock;
    }
  }
  const ecBlocks = dataBlocks.map((block) => reedSolomonRemainder(block, generator));
  const longest = Math.max(...dataBlocks.map((block) => block.length));
  const result = [];
  for (let column = 0; column < longest; column++) {
    for (const block of dataBlocks) if (column < block.length) result.push(block[column]);
  }
  for (let column = 0; column < ecPerBlock; column++) {
    for (const block of ecBlocks) result.push(block[column]);
  }
  return result;
}

/** The module grid, with a second grid that marks the function patterns. */
class Matrix {
  constructor(version) {
    this.version = version;
    this.size = version * 4 + 17;
    this.dark = Array.from({ length: this.size }, () => new Array(this.size).fill(false));
    this.reserved = Array.from({ length: this.size }, () => new Array(this.size).fill(false));
  }

  setFunction(column, row, dark) {
    this.dark[row][column] = dark;
    this.reserved[row][column] = true;
  }

  drawFunctionPatterns() {
    const last = this.size - 1;
    for (let index = 0; index < this.size; index++) {
      this.setFunction(6, index, index % 2 === 0);
      this.setFunction(index, 6, index % 2 === 0);
    }
    for (const [column, row] of [[3, 3], [last - 3, 3], [3, last - 3]]) {
      this.drawFinder(column, row);
    }
    const centres = ALIGNMENT_CENTRES[this.version];
    for (const row of centres) {
      for (const column of centres) {
        const nearFinder =
          (row === 6 && column === 6) ||
          (row === 6 && column === centres[centres.length - 1]) ||
          (row === centres[centres.length - 1] && column === 6);
        if (!nearFinder) this.drawAlignment(column, row);
      }
    }
    this.drawFormatBits(0);
    this.drawVersionBits();
  }

  drawFinder(centreColumn, centreRow) {
    for (let dy = -4; dy <= 4; dy++) {
      for (let dx = -4; dx <= 4; dx++) {
        const column = centreColumn + dx;
        const row = centreRow + dy;
        if (column < 0 || row < 0 || column >= this.size || row >= this.size) continue;
        const ring = Math.max(Math.abs(dx), Math.abs(dy));
        this.setFunction(column, row, ring !== 2 && ring !== 4);
      }
    }
  }

  drawAlignment(centreColumn, centreRow) {
    for (let dy = -2; dy <= 2; dy++) {
      for (let dx = -2; dx <= 2; dx++) {
        this.setFunction(centreColumn + dx, centreRow + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
      }
    }
  }

  drawFormatBits(mask) {
    const data = (LEVEL_M_FORMAT_BITS << 3) | mask;
    let remainder = data;
    for (let step = 0; step < 10; step++) {
      remainder = (remainder << 1) ^ ((remainder >>> 9) * FORMAT_GENERATOR);
    }
    const bits = ((data << 10) | remainder) ^ FORMAT_MASK_PATTERN;
    const bit = (index) => ((bits >>> index) & 1) === 1;
    const size = this.size;
    // The copy around the top-left finder.
    for (let index = 0; index <= 5; index++) this.setFunction(8, index, bit(index));
    this.setFunction(8, 7, bit(6));
    this.setFunction(8, 8, bit(7));
    this.setFunction(7, 8, bit(8));
    for (let index = 9; index < 15; index++) this.setFunction(14 - index, 8, bit(index));
    // The copy split between the other two finders, and the module that is always dark.
    for (let index = 0; index < 8; index++) this.setFunction(size - 1 - index, 8, bit(index));
    for (let index = 8; index < 15; index++) this.setFunction(8, size - 15 + index, bit(index));
    this.setFunction(8, size - 8, true);
  }

  drawVersionBits() {
    if (this.version < 7) return;
    let remainder = this.version;
    for (let step = 0; step < 12; step++) {
      remainder = (remainder << 1) ^ ((remainder >>> 11) * VERSION_GENERATOR);
    }
    const bits = (this.version << 12) | remainder;
    for (let index = 0; index < 18; index++) {
      const dark = ((bits >>> index) & 1) === 1;
      const near = this.size - 11 + (index % 3);
      const far = Math.floor(index / 3);
      this.setFunction(near, far, dark);
      this.setFunction(far, near, dark);
    }
  }

  /** Place the codewords' bits in the zig-zag of two-module columns, right to left. */
  placeCodewords(codewords) {
    const bits = [];
    for (const codeword of codewords) {
      for (let shift = 7; shift >= 0; shift--) bits.push((codeword >>> shift) & 1);
    }
    let next = 0;
    for (let right = this.size - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5; // the vertical timing pattern takes column 6
      const upward = ((right + 1) & 2) === 0;
      for (let step = 0; step < this.size; step++) {
        const row = upward ? this.size - 1 - step : step;
        for (const column of [right, right - 1]) {
          if (this.reserved[row][column]) continue;
          // Remainder bits past the last codeword stay light.
          this.dark[row][column] = next < bits.length && bits[next] === 1;
          next++;
        }
      }
    }
  }

  applyMask(mask) {
    const rule = MASK_RULES[mask];
    for (let row = 0; row < this.size; row++) {
      for (let column = 0; column < this.size; column++) {
        if (!this.reserved[row][column] && rule(column, row)) {
          this.dark[row][column] = !this.dark[row][column];
        }
      }
    }
  }

  /** Score how hard the symbol is to read (ISO/IEC 18004 section 7.8.3); lower is better. */
  penalty() {
    const size = this.size;
    const at = (column, row) => this.dark[row][column];
    let score = 0;
    const lines = [];
    for (let index = 0; index < size; index++) {
      lines.push(Array.from({ length: size }, (_, k) => at(k, index)));
      lines.push(Array.from({ length: size }, (_, k) => at(index, k)));
    }
    for (const line of lines) {
      let run = 1;
      for (let k = 1; k <= size; k++) {
        if (k < size && line[k] === line[k - 1]) {
          run++;
          continue;
        }
        if (run >= 5) score += 3 + (run - 5);
        run = 1;
      }
      const text = line.map((dark) => (dark ? "1" : "0")).join("");
      for (const pattern of ["00001011101", "10111010000"]) {
        for (let from = text.indexOf(pattern); from !== -1; from = text.indexOf(pattern, from + 1)) {
          score += 40;
        }
      }
    }
    for (let row = 0; row + 1 < size; row++) {
      for (let column = 0; column + 1 < size; column++) {
        const colour = at(column, row);
        if (colour === at(column + 1, row) && colour === at(column, row + 1) && colour === at(column + 1, row + 1)) {
          score += 3;
        }
      }
    }
    const darkCount = this.dark.reduce((total, line) => total + line.filter(Boolean).length, 0);
    const total = size * size;
    score += 10 * (Math.ceil(Math.abs(darkCount * 20 - total * 10) / total) - 1);
    return score;
  }
}

const MASK_RULES = [
  (x, y) => (x + y) % 2 === 0,
  (x, y) => y % 2 === 0,
  (x) => x % 3 === 0,
  (x, y) => (x + y) % 3 === 0,
  (x, y) => (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0,
  (x, y) => ((x * y) % 2) + ((x * y) % 3) === 0,
  (x, y) => (((x * y) % 2) + ((x * y) % 3)) % 2 === 0,
  (x, y) => (((x + y) % 2) + ((x * y) % 3)) % 2 === 0,
];

/**
 * Encode text as a QR code at level M.
 * Returns {version, mode, mask, size, modules}, where modules[row][column] is true for dark.
 */
export function encodeQr(text) {
  const { version, mode, codewords } = encodeData(String(text));
  const allCodewords = addErrorCorrection(version, codewords);
  let best = null;
  for (let mask = 0; mask < MASK_RULES.length; mask++) {
    const matrix = new Matrix(version);
    matrix.drawFunctionPatterns();
    matrix.placeCodewords(allCodewords);
    matrix.applyMask(mask);
    matrix.drawFormatBits(mask);
    const score = matrix.penalty();
    if (best === null || score < best.score) best = { score, mask, matrix };
  }
  const { matrix, mask } = best;
  return { version, mode, mask, size: matrix.size, modules: matrix.dark };
}

/** Draw a QR code on a canvas, black on white with the standard four-module quiet zone. */
export function drawQr(canvas, text, { pixelsPerModule = 6, quietZone = 4 } = {}) {
  const qr = encodeQr(text);
  const side = (qr.size + quietZone * 2) * pixelsPerModule;
  canvas.width = side;
  canvas.height = side;
  const context = canvas.getContext("2d");
  context.fillStyle = "#ffffff";
  context.fillRect(0, 0, side, side);
  context.fillStyle = "#000000";
  qr.modules.forEach((line, row) => {
    line.forEach((dark, column) => {
      if (dark) {
        context.fillRect(
          (column + quietZone) * pixelsPerModule,
          (row + quietZone) * pixelsPerModule,
          pixelsPerModule,
          pixelsPerModule,
        );
      }
    });
  });
  return qr;
}
