// quipu.d.mts - types of clients/js/quipu.mjs (the JS client of quipu's HTTP API); TypeScript
// finds them beside quipu.mjs. quipu.d.ts re-exports them for tools that look for that name.
// Amounts, ids and timestamps that can pass 2^53 are decimal strings; never numbers.

/** A decimal string of an unsigned integer: an amount in minor units, an id, a timestamp. */
export type DecimalString = string;
/** Any JSON value the node answers. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/** An ISO 4217 alphabetic code ("USD") or a numeric code quipu knows (840, "392"). */
export type Currency = string | number;

export interface QuipuErrorInit {
  status?: number;
  code?: string;
  message?: string;
  path?: string | null;
  requestId?: string | null;
  retryAfter?: number | null;
  body?: unknown;
  cause?: unknown;
}

/** An answer outside 2xx (or none: status 0, code "network_error" / "aborted"). */
export class QuipuError extends Error {
  constructor(init?: QuipuErrorInit);
  name: "QuipuError";
  /** HTTP status; 0 when no answer came. */
  status: number;
  /** error.code of the envelope, e.g. "invalid_value"; "http_<status>" without an envelope. */
  code: string;
  /** error.path: the field ("[3].amount", "limit", "" for the request as a whole). */
  path: string | null;
  /** The X-Request-Id header. */
  requestId: string | null;
  /** Retry-After in seconds (429, 503), or null. */
  retryAfter: number | null;
  /** The parsed answer (object) or its text; e.g. body.error.errors of ruleset_invalid. */
  body: any;
  /** error.line / error.column (invalid_json, ruleset_invalid), else null. */
  line: number | null;
  column: number | null;
}

export interface ClientOptions {
  /** "" (default) = the page's origin; "http://127.0.0.1:7070" in Node. */
  baseUrl?: string;
  /** Sent as Authorization: Bearer <apiKey>. */
  apiKey?: string;
  /** Defaults to globalThis.fetch. */
  fetch?: typeof fetch;
  /** Added to every request. */
  headers?: Record<string, string>;
  /** fetch's credentials; default "same-origin" (the wallet's session cookie goes along). */
  credentials?: RequestCredentials;
  /** Retries after a network error, 429, 502, 503 or 504 (default 0). */
  retries?: number;
  /** First back-off in ms, doubled each retry (default 200); Retry-After wins. */
  retryDelayMs?: number;
  /** Longest wait between retries in ms (default 5000). */
  retryDelayMaxMs?: number;
}

export interface RequestOptions {
  /** Query parameters; undefined/null are left out, arrays repeat the name. */
  query?: Record<string, string | number | boolean | bigint | null | undefined |
    Array<string | number | boolean | bigint>>;
  /** JSON-encoded, or sent as is when a string (text/plain unless a Content-Type is given). */
  body?: unknown;
  /** POSTs get a fresh crypto.randomUUID() unless given; retries reuse it. */
  idempotencyKey?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Overrides the client's retries for this call. */
  retries?: number;
  /** "auto" (default): JSON when the answer is JSON, else text. "response": the raw Response. */
  responseType?: "auto" | "json" | "text" | "response";
}

/** Per-call options of the namespace methods. */
export type CallOptions = Omit<RequestOptions, "query" | "body">;

export interface EventHandlers {
  /** type is the `event:` field ("message" without one); data is parsed JSON when it parses. */
  onEvent?(type: string, data: any, id: string): void;
  onOpen?(response: Response): void;
  onComment?(text: string): void;
  /** A QuipuError: an answer outside 200 (4xx ends the stream) or a network error (retried). */
  onError?(error: QuipuError): void;
  signal?: AbortSignal;
  query?: RequestOptions["query"];
  headers?: Record<string, string>;
  /** false: data is always the text. */
  json?: boolean;
  /** Wait before reconnecting (ms, default 1000) unless the server sent `retry:`. */
  retryMs?: number;
  /** false: never reconnect; a function: after the server ends the stream, reconnect only if
   * it answers true for the last event (network failures and 5xx are retried unless false). */
  reconnect?: boolean | ((last: { type: string; data: any; id: string } | null) => boolean);
  /** Sent as Last-Event-ID on the first connection. */
  lastEventId?: string;
}

export interface EventSubscription {
  close(): void;
  /** Settles once the subscription has ended (closed, 4xx, 204, or reconnect: false). */
  done: Promise<void>;
}

/** A page of a cursor-paginated list. */
export interface Page<T = any> {
  data: T[];
  next_cursor: string | null;
}

/** One ledger result per event of a create batch. */
export interface BatchResult {
  results: Array<{ index: number; id: DecimalString; result: string }>;
}

export interface Account {
  id: DecimalString;
  debits_pending: DecimalString;
  debits_posted: DecimalString;
  credits_pending: DecimalString;
  credits_posted: DecimalString;
  user_data_128: DecimalString;
  user_data_64: DecimalString;
  user_data_32: number;
  ledger: number;
  code: number;
  flags: string[];
  timestamp: DecimalString;
}

export interface Transfer {
  id: DecimalString;
  debit_account_id: DecimalString;
  credit_account_id: DecimalString;
  amount: DecimalString;
  pending_id?: DecimalString;
  ledger: number;
  code: number;
  flags: string[];
  timeout?: number;
  timestamp: DecimalString;
  pending_state?: "pending" | "posted" | "voided" | "expired";
  submitted_by: string | null;
  [key: string]: unknown;
}

export interface HistoryQuery {
  limit?: number;
  from?: DecimalString;
  to?: DecimalString;
  reversed?: boolean;
  debits?: boolean;
  credits?: boolean;
}

export declare class Ledger {
  createAccounts(accounts: object[], opts?: CallOptions): Promise<BatchResult>;
  createTransfers(transfers: object[], opts?: CallOptions): Promise<BatchResult>;
  getAccount(id: DecimalString, opts?: CallOptions): Promise<Account>;
  getTransfer(id: DecimalString, opts?: CallOptions): Promise<Transfer>;
  accountTransfers(id: DecimalString, query?: HistoryQuery, opts?: CallOptions):
    Promise<{ transfers: Transfer[]; next: DecimalString | null }>;
  accountBalances(id: DecimalString, query?: HistoryQuery, opts?: CallOptions):
    Promise<{ balances: any[]; next: DecimalString | null }>;
  /** Every transfer of the account, following `next` page after page. */
  allAccountTransfers(id: DecimalString, query?: HistoryQuery): AsyncGenerator<Transfer>;
  lookupAccounts(ids: DecimalString[], opts?: CallOptions): Promise<{ accounts: Account[] }>;
  lookupTransfers(ids: DecimalString[], opts?: CallOptions): Promise<{ transfers: Transfer[] }>;
  queryAccounts(filter?: object, opts?: CallOptions):
    Promise<{ accounts: Account[]; next: DecimalString | null }>;
  queryTransfers(filter?: object, opts?: CallOptions):
    Promise<{ transfers: Transfer[]; next: DecimalString | null }>;
  audit(opts?: CallOptions): Promise<any>;
}

/** A payment intent (docs/auth.md). */
export interface Intent {
  id: string;
  status: "requires_confirmation" | "requires_review" | "succeeded" | "canceled" | "expired";
  amount: DecimalString;
  currency: string;
  payee_name: string;
  order_id: string | null;
  expires_at: string;
  risk: any;
  [key: string]: unknown;
}

export declare class Auth {
  createUser(user: { handle: string; display_name: string }, opts?: CallOptions):
    Promise<{ id: string; handle: string; display_name: string; created: string }>;
  credentials(userId: string, opts?: CallOptions): Promise<Page>;
  deleteCredential(userId: string, credentialId: string, opts?: CallOptions): Promise<any>;
  registerOptions(userId: string | { user_id: string }, opts?: CallOptions):
    Promise<{ ceremony: string; expires_at: string;
      publicKey: PublicKeyCredentialCreationOptionsJSON }>;
  registerVerify(ceremony: string, credential: RegistrationResponseJSON, opts?: CallOptions):
    Promise<any>;
  createIntent(intent: object, opts?: CallOptions): Promise<Intent>;
  getIntent(id: string, opts?: CallOptions): Promise<Intent>;
  listIntents(query?: object, opts?: CallOptions): Promise<Page<Intent>>;
  challenge(id: string, opts?: CallOptions):
    Promise<{ publicKey: PublicKeyCredentialRequestOptionsJSON; expires_at: string;
      secure_payment_confirmation: any }>;
  confirm(id: string, credential: AuthenticationResponseJSON, opts?: CallOptions): Promise<Intent>;
  cancel(id: string, opts?: CallOptions): Promise<Intent>;
  approve(id: string, note?: string, opts?: CallOptions): Promise<Intent>;
  decline(id: string, note?: string, opts?: CallOptions): Promise<Intent>;
  listOperators(query?: { limit?: number; cursor?: string }, opts?: CallOptions):
    Promise<Page<Operator>>;
  operatorPasskeyOptions(name: string, opts?: CallOptions):
    Promise<{ ceremony_id: string; operator: string; expires_at: string;
      publicKey: PublicKeyCredentialCreationOptionsJSON }>;
  operatorPasskeyVerify(ceremonyId: string, credential: RegistrationResponseJSON,
    opts?: CallOptions):
    Promise<{ operator: string; credential_id: string; created: string; created_by: string }>;
  deleteOperator(name: string, opts?: CallOptions): Promise<any>;
  deleteOperatorPasskey(name: string, credentialId: string, opts?: CallOptions): Promise<any>;
  operatorLoginOptions(name?: string, opts?: CallOptions):
    Promise<{ ceremony_id: string; expires_at: string;
      publicKey: PublicKeyCredentialRequestOptionsJSON }>;
  operatorLoginVerify(ceremonyId: string, credential: AuthenticationResponseJSON,
    opts?: CallOptions): Promise<{ key: string; expires_at: string; operator: string }>;
  operatorLogout(opts?: CallOptions): Promise<{ revoked: boolean }>;
}

export interface Operator {
  name: string;
  created: string;
  created_by: string;
  sessions: number;
  passkeys: { id: string; created: string; created_by: string; last_used: string | null;
    transports: string[] }[];
}

export interface Order {
  object: "order";
  id: string;
  status: string;
  merchant_id: string;
  settlement_account_id: DecimalString;
  amount: DecimalString;
  amount_major: string;
  currency: string;
  ledger: number;
  qr: string;
  expires_at: string;
  [key: string]: unknown;
}

export declare class Payments {
  createMerchant(merchant: object, opts?: CallOptions): Promise<any>;
  getMerchant(id: string, opts?: CallOptions): Promise<any>;
  createMerchantKey(merchantId: string, body?: { name?: string }, opts?: CallOptions):
    Promise<{ id: string; key?: string; [k: string]: unknown }>;
  createOrder(order: object, opts?: CallOptions): Promise<Order>;
  getOrder(id: string, opts?: CallOptions): Promise<Order>;
  listOrders(query?: object, opts?: CallOptions): Promise<Page<Order>>;
  cancelOrder(id: string, opts?: CallOptions): Promise<Order>;
  orderQrSvg(id: string, opts?: CallOptions): Promise<string>;
  orderQrPng(id: string, opts?: CallOptions): Promise<Blob>;
  orderEvents(id: string, handlers: EventHandlers): EventSubscription;
  collect(id: string, paymentCode: string, opts?: CallOptions): Promise<Order>;
  createRefund(refund: { order_id: string; amount: DecimalString; reason?: string },
    opts?: CallOptions): Promise<any>;
  getRefund(id: string, opts?: CallOptions): Promise<any>;
  listRefunds(query?: object, opts?: CallOptions): Promise<Page>;
  createWebhook(webhook: { url: string; events: string[] }, opts?: CallOptions): Promise<any>;
  listWebhooks(query?: object, opts?: CallOptions): Promise<Page>;
  deleteWebhook(id: string, opts?: CallOptions): Promise<any>;
  deliveries(id: string, query?: object, opts?: CallOptions): Promise<Page>;
  parseQr(payload: string, opts?: CallOptions):
    Promise<{ object: "qr_payload"; crc: string; order_id?: string; tags: any[] }>;
  enrollDevice(device: object, opts?: CallOptions): Promise<any>;
  getDevice(id: string, opts?: CallOptions): Promise<any>;
  revokeDevice(id: string, opts?: CallOptions): Promise<any>;
  deviceCode(id: string, opts?: CallOptions):
    Promise<{ device_id: string; payment_code: string; step: number; expires_at: string }>;
}

export declare class Risk {
  decide(events: object, opts?: CallOptions): Promise<any>;
  decide(events: object[], opts?: CallOptions): Promise<any[]>;
  getRuleset(opts?: CallOptions): Promise<any>;
  /** Rejects with "ruleset_invalid" (line, column, body.error.errors) when it does not compile. */
  putRuleset(text: string, opts?: CallOptions & { mode?: "live" | "shadow" }): Promise<any>;
  shadow(opts?: CallOptions): Promise<any>;
  stopShadow(opts?: CallOptions): Promise<any>;
  lists(opts?: CallOptions):
    Promise<{ lists: Array<{ name: string; kind: string; size: number }> }>;
  list(name: string, opts?: CallOptions): Promise<any>;
  updateList(name: string, change: { add?: string[]; remove?: string[] }, opts?: CallOptions):
    Promise<any>;
  rules(opts?: CallOptions): Promise<{ ruleset: string; rules: any[] }>;
  snooze(rule: string, body: { reason: string; until?: number; duration_s?: number },
    opts?: CallOptions): Promise<any>;
  unsnooze(rule: string, opts?: CallOptions): Promise<any>;
  changes(query?: { after?: number; limit?: number }, opts?: CallOptions): Promise<any>;
  stats(query?: { bucket_s?: number; buckets?: number }, opts?: CallOptions): Promise<any>;
  decisions(query?: { limit?: number; outcome?: string }, opts?: CallOptions): Promise<any>;
}

export declare class Chain {
  status(opts?: CallOptions): Promise<any>;
  block(height: number | string, opts?: CallOptions): Promise<any>;
  tx(hash: string, opts?: CallOptions & { proof?: boolean }): Promise<any>;
  query(app: string, method: string, args?: object, opts?: CallOptions & { proof?: boolean }):
    Promise<{ height: number; result: any; proof?: any }>;
  nonce(sender: string, opts?: CallOptions): Promise<any>;
  kv(key: string, opts?: CallOptions & { proof?: boolean }): Promise<any>;
  submit(tx: string | string[], opts?: CallOptions): Promise<any>;
}

export interface WalletAccount {
  id: DecimalString;
  ledger: number;
  currency: string;
  balance: DecimalString;
  pending: DecimalString;
}

export interface Me {
  user: { id: string; handle: string; display_name: string };
  accounts: WalletAccount[];
}

export interface Bill {
  id: DecimalString;
  time: number;
  direction: "in" | "out";
  amount: DecimalString;
  ledger: number;
  currency: string;
  status: "pending" | "posted" | "voided";
  kind: "transfer" | "payment" | "refund" | "deposit";
  counterparty: { kind: "user" | "merchant" | "bank"; name: string; handle?: string };
  transfer_id: DecimalString;
  intent_id?: string;
  order_id?: string;
  transfers?: Array<{ id: DecimalString; time: number; amount: DecimalString; flags: string[] }>;
}

export interface WalletOrder {
  id: string;
  merchant_name: string;
  amount: DecimalString;
  currency: string;
  ledger: number;
  description: string | null;
  status: string;
  expires_at: string;
}

export interface WalletEventHandlers extends EventHandlers {
  onBill?(bill: Bill, id: string): void;
  onBalance?(accounts: WalletAccount[], id: string): void;
  onIntent?(intent: Intent, id: string): void;
}

export declare class Wallet {
  signupOptions(handle: string, displayName: string, opts?: CallOptions):
    Promise<{ signup_id: string; publicKey: PublicKeyCredentialCreationOptionsJSON }>;
  signupVerify(signupId: string, credential: RegistrationResponseJSON, opts?: CallOptions):
    Promise<Me>;
  loginOptions(handle?: string, opts?: CallOptions):
    Promise<{ login_id: string; publicKey: PublicKeyCredentialRequestOptionsJSON }>;
  loginVerify(loginId: string, credential: AuthenticationResponseJSON, opts?: CallOptions):
    Promise<Me>;
  logout(opts?: CallOptions): Promise<{ ok: true }>;
  me(opts?: CallOptions): Promise<Me>;
  bills(query?: { month?: string; q?: string; limit?: number; cursor?: string },
    opts?: CallOptions): Promise<Page<Bill>>;
  allBills(query?: { month?: string; q?: string; limit?: number }): AsyncGenerator<Bill>;
  bill(id: string, opts?: CallOptions): Promise<Bill>;
  user(handle: string, opts?: CallOptions): Promise<{ handle: string; display_name: string }>;
  transfer(t: { to: string; amount: DecimalString; note?: string }, opts?: CallOptions):
    Promise<{ intent: Intent; publicKey: PublicKeyCredentialRequestOptionsJSON }>;
  intent(id: string, opts?: CallOptions): Promise<Intent>;
  challenge(id: string, opts?: CallOptions):
    Promise<{ publicKey: PublicKeyCredentialRequestOptionsJSON }>;
  confirmIntent(id: string, credential: AuthenticationResponseJSON, opts?: CallOptions):
    Promise<Intent>;
  cancelIntent(id: string, opts?: CallOptions): Promise<Intent>;
  scan(payload: string, opts?: CallOptions): Promise<WalletOrder>;
  order(id: string, opts?: CallOptions): Promise<WalletOrder>;
  payOrder(id: string, opts?: CallOptions):
    Promise<{ intent: Intent; publicKey: PublicKeyCredentialRequestOptionsJSON }>;
  paycodeUnlock(opts?: CallOptions): Promise<{ publicKey: PublicKeyCredentialRequestOptionsJSON }>;
  paycode(credential?: AuthenticationResponseJSON, opts?: CallOptions):
    Promise<{ code: string; expires_at: string; qr_svg: string; unlocked_until: string }>;
  events(handlers?: WalletEventHandlers): EventSubscription;
  /** Operators (API key with scope admin). */
  adminUser(handle: string, opts?: CallOptions): Promise<any>;
  deposit(handle: string, amount: DecimalString, opts?: CallOptions): Promise<Bill>;
  revokeSessions(handle: string, opts?: CallOptions): Promise<{ revoked: number }>;
}

export class Quipu {
  constructor(options?: ClientOptions);
  readonly baseUrl: string;
  apiKey: string | null;
  readonly ledger: Ledger;
  readonly auth: Auth;
  readonly payments: Payments;
  readonly risk: Risk;
  readonly chain: Chain;
  readonly wallet: Wallet;
  /** One call: the parsed answer, or a QuipuError. */
  request<T = any>(method: string, path: string, opts?: RequestOptions): Promise<T>;
  /** Every item of a {"data","next_cursor"} list, fetching pages as needed. */
  paginate<T = any>(path: string, query?: RequestOptions["query"], opts?: CallOptions):
    AsyncGenerator<T>;
  /** Server-Sent Events over fetch streaming (Authorization header and cookies both work). */
  events(path: string, handlers?: EventHandlers): EventSubscription;
}
export default Quipu;

/** Minor-unit digits of a currency (ISO 4217): JPY 0, USD 2, KWD 3, CLF 4. */
export function currencyDecimals(currency: Currency): number;
/** "1234", "USD" -> "12.34". Exact at any size (BigInt). */
export function toMajor(minor: DecimalString | bigint | number, currency: Currency): string;
/** "12.34", "USD" -> "1234". Throws on floats, too many decimals, anything but digits. */
export function toMinor(major: string, currency: Currency): DecimalString;

/** The text/event-stream parser events() uses (exported for tests and custom transports). */
export class SseParser {
  constructor(handlers?: {
    onEvent?(e: { type: string; data: string; id: string }): void;
    onComment?(text: string): void;
    onRetry?(ms: number): void;
  });
  lastEventId: string;
  feed(text: string): void;
  end(): void;
}

// WebAuthn Level 3 JSON forms (as the node sends and expects them).
export interface PublicKeyCredentialDescriptorJSON {
  type: "public-key";
  id: string;
  transports?: string[];
}
export interface PublicKeyCredentialCreationOptionsJSON {
  rp: { id?: string; name: string };
  user: { id: string; name: string; displayName: string };
  challenge: string;
  pubKeyCredParams: Array<{ type: "public-key"; alg: number }>;
  timeout?: number;
  excludeCredentials?: PublicKeyCredentialDescriptorJSON[];
  authenticatorSelection?: object;
  attestation?: string;
  extensions?: object;
}
export interface PublicKeyCredentialRequestOptionsJSON {
  challenge: string;
  timeout?: number;
  rpId?: string;
  allowCredentials?: PublicKeyCredentialDescriptorJSON[];
  userVerification?: string;
  extensions?: object;
}
export interface RegistrationResponseJSON {
  id: string;
  rawId: string;
  type: "public-key";
  authenticatorAttachment?: string;
  clientExtensionResults: object;
  response: {
    clientDataJSON: string;
    attestationObject: string;
    authenticatorData?: string;
    transports?: string[];
    publicKeyAlgorithm?: number;
    publicKey?: string;
  };
}
export interface AuthenticationResponseJSON {
  id: string;
  rawId: string;
  type: "public-key";
  authenticatorAttachment?: string;
  clientExtensionResults: object;
  response: {
    clientDataJSON: string;
    authenticatorData: string;
    signature: string;
    userHandle?: string;
  };
}

export const webauthn: {
  base64urlToBytes(text: string): Uint8Array;
  bytesToBase64url(bytes: ArrayBuffer | ArrayBufferView): string;
  creationOptionsFromJSON(json: PublicKeyCredentialCreationOptionsJSON):
    PublicKeyCredentialCreationOptions;
  requestOptionsFromJSON(json: PublicKeyCredentialRequestOptionsJSON):
    PublicKeyCredentialRequestOptions;
  credentialToJSON(credential: PublicKeyCredential | any):
    RegistrationResponseJSON | AuthenticationResponseJSON;
  /** navigator.credentials.create with the node's options; resolves to the JSON to post. */
  create(publicKey: PublicKeyCredentialCreationOptionsJSON,
    opts?: { signal?: AbortSignal; credentials?: CredentialsContainer | any }):
    Promise<RegistrationResponseJSON>;
  /** navigator.credentials.get with the node's options; resolves to the JSON to post. */
  get(publicKey: PublicKeyCredentialRequestOptionsJSON,
    opts?: { signal?: AbortSignal; credentials?: CredentialsContainer | any;
      mediation?: CredentialMediationRequirement }):
    Promise<AuthenticationResponseJSON>;
};
