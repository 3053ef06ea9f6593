/**
 * The till's offline queue: purchases booked while the network is down, kept in IndexedDB
 * (database `lw-till`, store `queue`) until `POST /api/v1/till/sync` has answered them.
 *
 * Each entry is a sync event: `{event_id, type: "purchase", sequence, local_time, payload}`.
 * `event_id` is the purchase's Idempotency-Key, so a purchase whose online answer was lost and
 * that is then queued under the same key is answered with the online result, and sending the
 * queue twice (a sync whose answer was lost) books nothing twice. An event the server accepted
 * is deleted; one it refused (`conflict`, `rejected`) stays, marked, until the cashier has read
 * it: the customer left believing they earned points, so a refusal must be seen.
 */

const DATABASE = "lw-till";
const STORE = "queue";
const SEQUENCE_KEY = "lw.till-sequence";

let opening = null;

function database() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(DATABASE, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "event_id" });
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  return opening;
}

async function run(mode, work) {
  const db = await database();
  return new Promise((resolve, reject) => {
    const transaction = db.transaction(STORE, mode);
    const result = work(transaction.objectStore(STORE));
    transaction.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
    transaction.onerror = () => reject(transaction.error);
  });
}

/** The next sequence number of this till (the server applies a batch in this order). */
function nextSequence() {
  const next = Number.parseInt(localStorage.getItem(SEQUENCE_KEY) || "0", 10) + 1;
  localStorage.setItem(SEQUENCE_KEY, String(next));
  return next;
}

/** Queue a purchase under its Idempotency-Key; `extra` is shown to the cashier (not sent). */
export async function queuePurchase(key, payload, extra = {}) {
  const event = {
    event_id: key,
    type: "purchase",
    sequence: nextSequence(),
    local_time: new Date().toISOString(),
    payload,
    status: "queued",
    extra,
  };
  await run("readwrite", (store) => store.put(event));
  return event;
}

/** Every queued event, oldest first. */
export async function queuedEvents() {
  const events = await run("readonly", (store) => store.getAll());
  return (events || []).sort((a, b) => a.sequence - b.sequence);
}

/** Forget an event (accepted by the server, or a refusal the cashier has read). */
export async function forget(eventId) {
  await run("readwrite", (store) => store.delete(eventId));
}

/** Mark an event as refused by the server, with the problem it answered. */
export async function markRefused(event, problem) {
  await run("readwrite", (store) => store.put({ ...event, status: "conflict", problem }));
}
