// An independent OPC UA server for otlink's tests and benchmark, built on
// node-opcua. Settings come from the environment:
//
//   PORT          TCP port (default 4840)
//   PKI           folder for the server's own certificate and trust lists
//                 (kept across restarts so the certificate stays the same)
//   BENCH         number of changing Double variables ns=1;s=Bench.N (default 0)
//   BENCH_MS      period at which all bench variables change (default 100)
//   USER_NAME, PASS  accepted user name and password (default operator / secret)
//
// It prints "READY <port>" once listening, and exits on SIGTERM/SIGINT.
// Client certificates are accepted automatically: this server exists to
// test otlink's client, whose own trust list is the subject under test.
"use strict";
const path = require("path");
const os = require("os");
const {
  OPCUAServer, OPCUACertificateManager, Variant, DataType, StatusCodes,
  SecurityPolicy, MessageSecurityMode,
} = require("node-opcua");

const port = parseInt(process.env.PORT || "4840", 10);
const pki = process.env.PKI || path.join(os.tmpdir(), "otlink-node-opcua-pki");
const benchN = parseInt(process.env.BENCH || "0", 10);
const benchMs = parseInt(process.env.BENCH_MS || "100", 10);
const user = process.env.USER_NAME || "operator";
const pass = process.env.PASS || "secret";

async function main() {
  const serverCertificateManager = new OPCUACertificateManager({
    rootFolder: path.join(pki, "server"), automaticallyAcceptUnknownCertificate: true,
  });
  const userCertificateManager = new OPCUACertificateManager({
    rootFolder: path.join(pki, "user"), automaticallyAcceptUnknownCertificate: true,
  });
  const server = new OPCUAServer({
    port,
    resourcePath: "/otlink",
    hostname: "127.0.0.1",
    alternateHostname: ["127.0.0.1", "localhost"],
    serverCertificateManager,
    userCertificateManager,
    securityPolicies: [SecurityPolicy.None, SecurityPolicy.Basic256Sha256,
      SecurityPolicy.Aes128_Sha256_RsaOaep, SecurityPolicy.Aes256_Sha256_RsaPss],
    securityModes: [MessageSecurityMode.None, MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt],
    allowAnonymous: true,
    userManager: { isValidUser: (u, p) => u === user && p === pass },
    buildInfo: {
      productName: "otlink-test-peer", manufacturerName: "node-opcua", softwareVersion: "2.186.4",
      buildNumber: "1", productUri: "urn:otlink:test-peer",
    },
    serverCapabilities: {
      maxSessions: 50,
      maxSubscriptions: 200,
      maxMonitoredItems: 200000,
      maxMonitoredItemsPerSubscription: 200000,
      maxSubscriptionsPerSession: 50,
      operationLimits: { maxNodesPerRead: 1000, maxNodesPerWrite: 1000, maxMonitoredItemsPerCall: 20000, maxNodesPerBrowse: 1000 },
    },
  });
  await server.initialize();
  const ns = server.engine.addressSpace.getOwnNamespace();
  const objects = server.engine.addressSpace.rootFolder.objects;

  const machine = ns.addObject({ organizedBy: objects, browseName: "Machine" });
  const state = { speed: 0, counter: 0, running: true, setpoint: 50.5, mode: 1, name: "press-1" };
  const ro = (browseName, dataType, get) => ns.addVariable({
    componentOf: machine, browseName, nodeId: "s=Machine." + browseName, dataType,
    accessLevel: "CurrentRead", userAccessLevel: "CurrentRead",
    minimumSamplingInterval: 10,
    value: { get: () => new Variant({ dataType: DataType[dataType], value: get() }) },
  });
  const rw = (browseName, dataType, key) => ns.addVariable({
    componentOf: machine, browseName, nodeId: "s=Machine." + browseName, dataType,
    accessLevel: "CurrentRead | CurrentWrite", userAccessLevel: "CurrentRead | CurrentWrite",
    minimumSamplingInterval: 10,
    value: {
      get: () => new Variant({ dataType: DataType[dataType], value: state[key] }),
      set: (v) => { state[key] = v.value; return StatusCodes.Good; },
    },
  });
  ro("Speed", "Double", () => state.speed);
  ro("Counter", "Int32", () => state.counter);
  ro("Running", "Boolean", () => state.running);
  ro("Name", "String", () => state.name);
  rw("Setpoint", "Double", "setpoint");
  rw("Mode", "Int16", "mode");
  setInterval(() => { state.counter++; state.speed = 1000 + (state.counter % 100); }, 50);

  if (benchN > 0) {
    const folder = ns.addFolder(objects, { browseName: "Bench" });
    const vars = [];
    for (let i = 0; i < benchN; i++) {
      vars.push(ns.addVariable({
        componentOf: folder, browseName: "V" + i, nodeId: "s=Bench." + i, dataType: "Double",
        minimumSamplingInterval: 0, value: new Variant({ dataType: DataType.Double, value: 0 }),
      }));
    }
    let tick = 0;
    setInterval(() => {
      tick++;
      const now = new Date();
      for (let i = 0; i < vars.length; i++) {
        vars[i].setValueFromSource(new Variant({ dataType: DataType.Double, value: tick + i / 1e6 }), StatusCodes.Good, now);
      }
    }, benchMs);
  }

  await server.start();
  process.stdout.write("READY " + server.endpoints[0].port + "\n");
  const stop = async () => { await server.shutdown(0); process.exit(0); };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err) => { console.error(err); process.exit(1); });
