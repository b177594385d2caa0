// An independent OPC UA client (node-opcua) for otlink's server
// interoperability test (internal/uaserver/interop_test.go). It reads one
// JSON job from argv[2], runs it, and prints one JSON result on stdout.
//
// argv[2] is one job or a list of jobs, run in turn (node-opcua takes
// seconds to load, so a test gives all its jobs to one process); the
// output is one result or the list of results.
//
// Job fields: endpoint, cert/key (PEM files of the client's application
// instance certificate; absent: node-opcua makes one in pki), uri (the
// certificate's application URI), policy (None, Basic256Sha256, ...), mode (None,
// Sign, SignAndEncrypt), user/password (absent: anonymous), pki (folder
// for the client's own certificate), browse (a node id to start from),
// read (node ids), subscribe (node id, wait for changes), writes (list of
// {node, type, value}), history ({node, start, end}), filters (list of
// {node, deadband, value}: monitored items with a data-change filter),
// translate (a browse path from Objects).
//
// Install: npm install in a cache folder outside the repository (the Go
// test does it): NODE_PATH=<cache>/node_modules node client.js '<job>'.
"use strict";
const ua = require("node-opcua-client");
const { OPCUACertificateManager } = require("node-opcua-certificate-manager");

function withTimeout(p, ms, what) {
  return Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(what + " timed out")), ms))]);
}

async function runJob(job) {
  const out = { ok: false };
  const cm = new OPCUACertificateManager({ rootFolder: job.pki, automaticallyAcceptUnknownCertificate: true });
  await cm.initialize();
  const client = ua.OPCUAClient.create({
    applicationName: "otlink-interop-client",
    applicationUri: job.uri || "urn:otlink:interop:client",
    certificateFile: job.cert,
    privateKeyFile: job.key,
    securityMode: ua.MessageSecurityMode[job.mode || "None"],
    securityPolicy: ua.SecurityPolicy[job.policy || "None"],
    endpointMustExist: false,
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
    clientCertificateManager: cm,
    requestedSessionTimeout: 30000,
  });
  try {
    await withTimeout(client.connect(job.endpoint), 10000, "connect");
    const ident = job.user ? { type: ua.UserTokenType.UserName, userName: job.user, password: job.password } : { type: ua.UserTokenType.Anonymous };
    const session = await withTimeout(client.createSession(ident), 10000, "session");
    out.session = true;
    if (job.browse) {
      // Walk the hierarchy from job.browse, depth first, bounded.
      out.objects = [];
      out.variables = [];
      const queue = [job.browse];
      for (let i = 0; i < queue.length && i < 500; i++) {
        const br = await session.browse({ nodeId: queue[i], referenceTypeId: "HierarchicalReferences", includeSubtypes: true,
          browseDirection: ua.BrowseDirection.Forward, nodeClassMask: 0, resultMask: 63 });
        for (const r of br.references || []) {
          const id = r.nodeId.toString();
          if (r.nodeClass === ua.NodeClass.Object) { out.objects.push(id); queue.push(id); }
          if (r.nodeClass === ua.NodeClass.Variable) { out.variables.push(id); }
        }
      }
    }
    if (job.read) {
      out.reads = [];
      for (const n of job.read) {
        const dv = await session.read({ nodeId: n, attributeId: ua.AttributeIds.Value });
        const dt = await session.read({ nodeId: n, attributeId: ua.AttributeIds.DataType });
        const al = await session.read({ nodeId: n, attributeId: ua.AttributeIds.AccessLevel });
        let v = dv.value ? dv.value.value : null;
        if (v && typeof v === "object" && v.constructor && v.constructor.name !== "Object") { v = JSON.parse(JSON.stringify(v)); }
        out.reads.push({ node: n, value: v, status: dv.statusCode.name, dataType: dt.value && dt.value.value ? dt.value.value.toString() : "",
          access: al.value ? al.value.value : null, source: dv.sourceTimestamp ? dv.sourceTimestamp.toISOString() : null });
      }
    }
    if (job.subscribe) {
      const sub = ua.ClientSubscription.create(session, { requestedPublishingInterval: 100, requestedLifetimeCount: 600,
        requestedMaxKeepAliveCount: 10, maxNotificationsPerPublish: 1000, publishingEnabled: true, priority: 1 });
      const item = ua.ClientMonitoredItem.create(sub, { nodeId: job.subscribe, attributeId: ua.AttributeIds.Value },
        { samplingInterval: 100, discardOldest: true, queueSize: 10 }, ua.TimestampsToReturn.Both);
      const seen = [];
      await withTimeout(new Promise((resolve) => {
        item.on("changed", (dv) => { seen.push(dv.value.value); if (new Set(seen.map(String)).size >= 2) resolve(); });
      }), job.subscribeMs || 8000, "subscription").catch((e) => { out.subscribeError = String(e.message || e); });
      out.changes = seen;
      await sub.terminate();
    }
    if (job.filters) {
      // Monitored items with data-change filters: [{node, deadband: "Absolute"|"Percent", value}];
      // each result is the status the server gave the item.
      const sub = await session.createSubscription2({ requestedPublishingInterval: 100, requestedLifetimeCount: 600,
        requestedMaxKeepAliveCount: 10, maxNotificationsPerPublish: 1000, publishingEnabled: true, priority: 1 });
      out.filters = [];
      for (const f of job.filters) {
        const filter = new ua.DataChangeFilter({ trigger: ua.DataChangeTrigger.StatusValue,
          deadbandType: ua.DeadbandType[f.deadband], deadbandValue: f.value });
        try {
          const item = await sub.monitor({ nodeId: f.node, attributeId: ua.AttributeIds.Value },
            { samplingInterval: 100, discardOldest: true, queueSize: 10, filter }, ua.TimestampsToReturn.Both);
          out.filters.push(item.statusCode ? item.statusCode.name : "Good");
        } catch (e) {
          const m = /Bad[A-Za-z]+/.exec(String(e && e.message || e));
          out.filters.push(m ? m[0] : String(e && e.message || e));
        }
      }
      await sub.terminate();
    }
    if (job.translate) {
      // A browse path from Objects, e.g. "/1:acme/1:taichung".
      const r = await session.translateBrowsePath(ua.makeBrowsePath("i=85", job.translate));
      out.translate = { status: r.statusCode.name, targets: (r.targets || []).map((t) => t.targetId.toString()) };
    }
    if (job.writes) {
      out.writes = [];
      for (const w of job.writes) {
        const st = await session.write({ nodeId: w.node, attributeId: ua.AttributeIds.Value,
          value: { value: { dataType: ua.DataType[w.type], value: w.value } } });
        out.writes.push({ node: w.node, status: st.name });
      }
    }
    if (job.history) {
      const h = await session.readHistoryValue(job.history.node, new Date(job.history.start), new Date(job.history.end));
      out.history = { status: h.statusCode.name, values: (h.historyData && h.historyData.dataValues || []).map((d) => d.value.value) };
    }
    await session.close();
    out.ok = true;
  } catch (e) {
    out.error = String(e && e.message || e);
  } finally {
    try { await client.disconnect(); } catch (e) { /* already gone */ }
  }
  return out;
}

async function main() {
  const arg = JSON.parse(process.argv[2]);
  const jobs = Array.isArray(arg) ? arg : [arg];
  const outs = [];
  for (const j of jobs) { outs.push(await runJob(j)); }
  process.stdout.write(JSON.stringify(Array.isArray(arg) ? outs : outs[0]) + "\n");
  process.exit(0);
}

main();
