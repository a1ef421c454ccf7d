// A real SMPP 3.4 server on loopback for istifta's SMPP gateway tests and benchmark
// (the npm `smpp` package does the protocol; this file adds what a test needs to see).
//
//   node server.mjs --port P [--log FILE] [--throttle-every N] [--reject-prefix +9640]
//                   [--undeliverable-prefix +9641] [--no-receipts] [--receipt-tlvs]
//                   [--delay-ms N] [--system-id ID --password PW] [--enquire-every S]
//                   [--send-unknown]
//
// It accepts transceiver binds (any credentials, or only --system-id/--password), answers
// every submit_sm with a unique message_id, and writes one JSON line per PDU of interest to
// --log: binds, each submit_sm with its decoded fields and the raw bytes (hex) of
// short_message, of its UDH and of the text after it (read from the PDU's own bytes, not
// from the package's decoder, which keeps only decoded text), enquire_link, unbind and the
// client's answers (deliver_sm_resp, enquire_link_resp, generic_nack). Unless --no-receipts,
// each accepted submit_sm gets a delivery receipt (deliver_sm, esm_class 0x04, stat:DELIVRD,
// 12-digit dates; stat:UNDELIV for --undeliverable-prefix; with --receipt-tlvs also the
// receipted_message_id and message_state TLVs). --throttle-every N answers ESME_RTHROTTLED to
// every Nth submit_sm; --reject-prefix answers ESME_RINVDSTADR for destinations starting with
// it; --delay-ms holds each submit_sm_resp back (the log's `outstanding` is then how many
// submits of that bind were waiting for an answer, this one included). Prints
// "listening PORT" once ready; SIGTERM stops it.
import fs from "node:fs";
import { parseArgs } from "node:util";
import smpp from "smpp";

const { values: opt } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    log: { type: "string" },
    "throttle-every": { type: "string", default: "0" },
    "reject-prefix": { type: "string" },
    "undeliverable-prefix": { type: "string" },
    "no-receipts": { type: "boolean", default: false },
    "receipt-tlvs": { type: "boolean", default: false },
    "delay-ms": { type: "string", default: "0" },
    "system-id": { type: "string" },
    password: { type: "string" },
    "enquire-every": { type: "string", default: "0" },
    "send-unknown": { type: "boolean", default: false },
  },
});
const throttleEvery = Number(opt["throttle-every"]);
const delayMs = Number(opt["delay-ms"]);
const strip = (prefix) => (prefix ? prefix.replace(/^\+/, "") : null);
const rejectPrefix = strip(opt["reject-prefix"]);
const undeliverablePrefix = strip(opt["undeliverable-prefix"]);
// Written synchronously, so a line is in the file before the PDU it records is answered.
const log = opt.log ? fs.openSync(opt.log, "a") : null;
const record = (fields) => log !== null && fs.writeSync(log, JSON.stringify(fields) + "\n");

// Keep each PDU's bytes: the package decodes short_message to text and drops them.
smpp.PDU.fromStream = function (stream, commandLength) {
  const body = stream.read(commandLength - 4);
  if (!body) return false;
  const head = Buffer.alloc(4);
  head.writeUInt32BE(commandLength, 0);
  const raw = Buffer.concat([head, body]);
  const pdu = new smpp.PDU(raw);
  Object.defineProperty(pdu, "raw", { value: raw, enumerable: false });
  return pdu;
};

// submit_sm's short_message, located by walking the mandatory fields (SMPP 3.4 §4.4.1).
function rawShortMessage(raw) {
  let at = 16;
  const cstring = () => {
    while (raw[at] !== 0) at += 1;
    at += 1;
  };
  cstring(); // service_type
  at += 2; // source_addr_ton, source_addr_npi
  cstring(); // source_addr
  at += 2; // dest_addr_ton, dest_addr_npi
  cstring(); // destination_addr
  const esmClass = raw[at];
  at += 3; // esm_class, protocol_id, priority_flag
  cstring(); // schedule_delivery_time
  cstring(); // validity_period
  at += 4; // registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id
  const length = raw[at];
  const sm = raw.subarray(at + 1, at + 1 + length);
  const udhLength = esmClass & 0x40 && sm.length ? sm[0] + 1 : 0;
  return { sm, udh: sm.subarray(0, udhLength), text: sm.subarray(udhLength) };
}

const stamp = (d) =>
  [d.getUTCFullYear() % 100, d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
    .map((n) => String(n).padStart(2, "0"))
    .join("");

const run = Math.floor(Math.random() * 0xffff).toString(16).padStart(4, "0");
let submits = 0;
let sessions = 0;

function receipt(session, pdu, messageId, submitted) {
  const failed = undeliverablePrefix && pdu.destination_addr.startsWith(undeliverablePrefix);
  const stat = failed ? "UNDELIV" : "DELIVRD";
  const { text } = rawShortMessage(pdu.raw);
  const body = Buffer.concat([
    Buffer.from(
      `id:${messageId} sub:001 dlvrd:${failed ? "000" : "001"} submit date:${stamp(submitted)} ` +
        `done date:${stamp(new Date())} stat:${stat} err:${failed ? "001" : "000"} text:`,
      "ascii",
    ),
    text.subarray(0, 20),
  ]);
  const fields = {
    source_addr_ton: pdu.dest_addr_ton,
    source_addr_npi: pdu.dest_addr_npi,
    source_addr: pdu.destination_addr,
    dest_addr_ton: pdu.source_addr_ton,
    dest_addr_npi: pdu.source_addr_npi,
    destination_addr: pdu.source_addr,
    esm_class: 0x04,
    data_coding: 0,
    short_message: body,
  };
  if (opt["receipt-tlvs"]) {
    fields.receipted_message_id = messageId;
    fields.message_state = failed ? 5 : 2; // UNDELIVERABLE, DELIVERED
  }
  session.deliver_sm(fields, (resp) => record({ pdu: "deliver_sm_resp", session: session.id, status: resp.command_status }));
}

function onSubmit(session, pdu) {
  submits += 1;
  session.outstanding += 1;
  const { sm, udh, text } = rawShortMessage(pdu.raw);
  let status = 0;
  if (throttleEvery && submits % throttleEvery === 0) status = smpp.ESME_RTHROTTLED;
  else if (rejectPrefix && pdu.destination_addr.startsWith(rejectPrefix)) status = smpp.ESME_RINVDSTADR;
  const messageId = status ? "" : `${run}${submits.toString(16).padStart(8, "0")}`;
  record({
    pdu: "submit_sm",
    session: session.id,
    sequence_number: pdu.sequence_number,
    outstanding: session.outstanding,
    service_type: pdu.service_type,
    source_addr_ton: pdu.source_addr_ton,
    source_addr_npi: pdu.source_addr_npi,
    source_addr: pdu.source_addr,
    dest_addr_ton: pdu.dest_addr_ton,
    dest_addr_npi: pdu.dest_addr_npi,
    destination_addr: pdu.destination_addr,
    esm_class: pdu.esm_class,
    registered_delivery: pdu.registered_delivery,
    data_coding: pdu.data_coding,
    short_message_hex: sm.toString("hex"),
    udh_hex: udh.toString("hex"),
    text_hex: text.toString("hex"),
    status,
    message_id: messageId,
  });
  const submitted = new Date();
  const answer = () => {
    session.outstanding -= 1;
    if (session.closed) return;
    session.send(pdu.response(status ? { command_status: status } : { message_id: messageId }));
    if (!status && !opt["no-receipts"]) receipt(session, pdu, messageId, submitted);
  };
  if (delayMs) setTimeout(answer, delayMs);
  else answer();
}

const server = smpp.createServer((session) => {
  sessions += 1;
  session.id = sessions;
  session.outstanding = 0;
  session.closed = false;
  let timer = null;
  session.on("bind_transceiver", (pdu) => {
    const ok =
      !opt["system-id"] || (pdu.system_id === opt["system-id"] && pdu.password === (opt.password ?? ""));
    record({ pdu: "bind_transceiver", session: session.id, system_id: pdu.system_id, system_type: pdu.system_type, accepted: ok });
    if (!ok) {
      session.send(pdu.response({ command_status: smpp.ESME_RINVPASWD }));
      return;
    }
    session.send(pdu.response({ system_id: "istifta-peer" }));
    const every = Number(opt["enquire-every"]);
    if (every) timer = setInterval(() => session.enquire_link(() => record({ pdu: "enquire_link_resp", session: session.id })), every * 1000);
    if (opt["send-unknown"]) {
      const unknown = Buffer.alloc(16);
      unknown.writeUInt32BE(16, 0);
      unknown.writeUInt32BE(0x00000999, 4); // no such command in SMPP 3.4
      unknown.writeUInt32BE(0, 8);
      unknown.writeUInt32BE(0x7ffffff0, 12);
      session.socket.write(unknown);
    }
  });
  session.on("submit_sm", (pdu) => onSubmit(session, pdu));
  session.on("enquire_link", (pdu) => {
    record({ pdu: "enquire_link", session: session.id });
    session.send(pdu.response());
  });
  session.on("generic_nack", (pdu) =>
    record({ pdu: "generic_nack", session: session.id, sequence_number: pdu.sequence_number, status: pdu.command_status }),
  );
  session.on("unbind", (pdu) => {
    record({ pdu: "unbind", session: session.id });
    session.send(pdu.response());
    session.close();
  });
  const done = () => {
    session.closed = true;
    if (timer) clearInterval(timer);
  };
  session.on("close", done);
  session.on("error", done);
});

server.listen(Number(opt.port), "127.0.0.1", () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
const stop = () => process.exit(0);
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
