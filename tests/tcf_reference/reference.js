// Test helper: decodes and encodes TC strings with the IAB reference library.
// stdin: {"gvl": <vendor-list.json>, "requests": [{"decode": "<tc string>"} | {"encode": {...}}]}
// stdout: one JSON array, one answer per request ({"model": {...}}, {"tcString": "..."} or {"error": "..."}).
"use strict";
const { GVL, TCModel, TCString } = require("@iabtechlabtcf/core");

function ids(vector) {
  const out = [];
  vector.forEach((has, id) => { if (has) out.push(id); });
  return out;
}

function describe(m) {
  const restrictions = [];
  for (const r of m.publisherRestrictions.getRestrictions()) {
    restrictions.push({ purposeId: r.purposeId, restrictionType: r.restrictionType,
      vendors: m.publisherRestrictions.getVendors(r) });
  }
  return {
    version: m.version, created: m.created.getTime(), lastUpdated: m.lastUpdated.getTime(),
    cmpId: m.cmpId, cmpVersion: m.cmpVersion, consentScreen: m.consentScreen,
    consentLanguage: m.consentLanguage, vendorListVersion: m.vendorListVersion,
    policyVersion: m.policyVersion, isServiceSpecific: m.isServiceSpecific,
    useNonStandardTexts: m.useNonStandardTexts, specialFeatureOptins: ids(m.specialFeatureOptins),
    purposeConsents: ids(m.purposeConsents), purposeLegitimateInterests: ids(m.purposeLegitimateInterests),
    purposeOneTreatment: m.purposeOneTreatment, publisherCountryCode: m.publisherCountryCode,
    vendorConsents: ids(m.vendorConsents), vendorLegitimateInterests: ids(m.vendorLegitimateInterests),
    publisherRestrictions: restrictions, vendorsDisclosed: ids(m.vendorsDisclosed),
    publisherConsents: ids(m.publisherConsents),
    publisherLegitimateInterests: ids(m.publisherLegitimateInterests),
    numCustomPurposes: m.numCustomPurposes, publisherCustomConsents: ids(m.publisherCustomConsents),
    publisherCustomLegitimateInterests: ids(m.publisherCustomLegitimateInterests),
  };
}

function encode(gvl, spec) {
  const m = new TCModel(gvl);
  m.cmpId = spec.cmpId;
  m.cmpVersion = spec.cmpVersion;
  m.consentScreen = spec.consentScreen;
  m.publisherCountryCode = spec.publisherCountryCode;
  m.isServiceSpecific = true;
  m.purposeOneTreatment = Boolean(spec.purposeOneTreatment);
  m.specialFeatureOptins.set(spec.specialFeatureOptins);
  m.purposeConsents.set(spec.purposeConsents);
  m.purposeLegitimateInterests.set(spec.purposeLegitimateInterests);
  m.vendorConsents.set(spec.vendorConsents);
  m.vendorLegitimateInterests.set(spec.vendorLegitimateInterests);
  m.vendorsDisclosed.set(spec.vendorsDisclosed);
  m.publisherConsents.set(spec.publisherConsents || []);
  m.publisherLegitimateInterests.set(spec.publisherLegitimateInterests || []);
  m.created = new Date(spec.created);
  m.lastUpdated = new Date(spec.lastUpdated);
  return TCString.encode(m);
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const { gvl: gvlJson, requests } = JSON.parse(input);
  const gvl = gvlJson ? new GVL(gvlJson) : null;
  const answers = requests.map((req) => {
    try {
      if ("decode" in req) return { model: describe(TCString.decode(req.decode)) };
      return { tcString: encode(gvl, req.encode) };
    } catch (err) {
      return { error: String(err && err.message ? err.message : err) };
    }
  });
  process.stdout.write(JSON.stringify(answers));
});
