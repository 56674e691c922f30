// The triage report's Mustache templates (render_report.cpp). Every value is written with
// double braces, which mstch escapes for HTML; triple braces (no escaping) are never used.
#pragma once

#include <string_view>

namespace restorekit::cli {

inline constexpr std::string_view kReportHtml = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}}</title>
<style>
  @page { size: A4; margin: 14mm; }
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2330;
         max-width: 60rem; margin: 1.5rem auto; padding: 0 1rem; }
  h1 { font-size: 1.35rem; margin: 0 0 .3rem; overflow-wrap: anywhere; }
  h2 { font-size: 1.1rem; margin: 1.6rem 0 .5rem; border-bottom: 1px solid #d8dce3; }
  h3 { font-size: 1rem; margin: 1rem 0 .3rem; }
  .meta { color: #5b6474; font-size: .85rem; }
  .verdict { border-radius: 6px; padding: .8rem 1rem; margin: 1rem 0; border: 2px solid; }
  .verdict.good { background: #eaf7ee; border-color: #2f8f4e; }
  .verdict.bad { background: #fdecec; border-color: #c23b3b; }
  .verdict strong { font-size: 1.2rem; text-transform: uppercase; letter-spacing: .04em; }
  table { border-collapse: collapse; width: 100%; margin: .3rem 0 .8rem; }
  th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #eceef2;
           vertical-align: top; overflow-wrap: anywhere; }
  th { background: #f4f6f9; font-weight: 600; }
  td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
  .error { color: #a12626; } .warning { color: #8a5a00; } .info { color: #3b5b8a; }
  .code { font-family: ui-monospace, monospace; font-size: .85rem; white-space: nowrap; }
  .lost { fill: #c23b3b; } .revived { fill: #2f8f4e; } .reverted { fill: #d89a1c; }
  .key span { display: inline-block; width: .8rem; height: .8rem; margin: 0 .3rem 0 .8rem;
              vertical-align: -1px; }
  .current { font-weight: 600; }
  ul.names { margin: .2rem 0 .6rem; padding-left: 1.2rem; overflow-wrap: anywhere; }
  section { break-inside: avoid-page; }
  @media print { body { margin: 0; max-width: none; } .verdict { break-after: avoid; } }
</style>
</head>
<body>
<h1>{{title}}</h1>
<div class="meta">made by restorekit on {{generated_at}}</div>

<div id="verdict" class="verdict {{#good}}good{{/good}}{{^good}}bad{{/good}}" data-verdict="{{verdict}}">
  <strong>{{verdict}}</strong>
  <p>{{verdict_sentence}}</p>
  {{#restore_sentence}}<p>{{restore_sentence}}</p>{{/restore_sentence}}
</div>

{{#effects}}
<section id="effects">
<h2>What a restore into {{live}} would do</h2>
<p>Rows: <strong id="rows-lost">{{lost}}</strong> lost, <strong id="rows-revived">{{revived}}</strong> revived,
<strong id="rows-reverted">{{reverted}}</strong> reverted. Predicted downtime: <strong id="downtime">{{downtime}}</strong>.</p>
<p class="key"><span style="background:#c23b3b"></span>lost (created since the backup)
<span style="background:#2f8f4e"></span>revived (deleted since)
<span style="background:#d89a1c"></span>reverted (changed since)</p>
{{#tables}}{{#any}}
<h3>Per table</h3>
{{> chart}}{{/any}}{{/tables}}
{{#has_tenants}}{{#tenants}}{{#any}}
<h3>Per tenant</h3>
{{> chart}}{{/any}}{{/tenants}}{{/has_tenants}}
{{#has_schema_changes}}<h3>Schema differences</h3>
<ul>{{#schema_changes}}<li>{{text}}</li>{{/schema_changes}}</ul>{{/has_schema_changes}}
{{#documents}}
<h3>Documents</h3>
<p id="documents"><strong>{{lost}}</strong> lost, <strong>{{revived}}</strong> revived, <strong>{{changed}}</strong> changed, {{unchanged}} unchanged.</p>
{{#has_lost_names}}<div>Lost (only in the live folder):</div><ul class="names">{{#lost_names}}<li>{{name}}</li>{{/lost_names}}</ul>{{/has_lost_names}}
{{#has_revived_names}}<div>Revived (only in the backup):</div><ul class="names">{{#revived_names}}<li>{{name}}</li>{{/revived_names}}</ul>{{/has_revived_names}}
{{#has_changed_names}}<div>Changed:</div><ul class="names">{{#changed_names}}<li>{{name}}</li>{{/changed_names}}</ul>{{/has_changed_names}}
{{/documents}}
</section>
{{/effects}}

{{#findings}}
<section id="findings">
<h2>Findings</h2>
{{#none}}<p>None: nothing to report.</p>{{/none}}
{{#groups}}
<h3 class="{{severity}}">{{title}} ({{count}})</h3>
<table class="findings {{severity}}">
<tr><th>code</th><th>where</th><th>what happened and what to do</th></tr>
{{#items}}<tr><td class="code">{{code}}</td><td>{{#has_entry}}{{entry}}{{/has_entry}}</td><td>{{message}}</td></tr>
{{/items}}
</table>
{{/groups}}
</section>
{{/findings}}

{{#facts}}
<section id="facts">
<h2>The archive</h2>
<table>
<tr><th>file</th><td>{{path}}</td></tr>
<tr><th>format</th><td>{{format}}, {{made_by}}</td></tr>
{{#has_created}}<tr><th>created</th><td>{{created}}</td></tr>{{/has_created}}
<tr><th>size</th><td>{{archive_bytes}} ({{payload}} unpacked, {{entries}} entries)</td></tr>
<tr><th>documents</th><td>{{documents}} files, {{document_bytes}}</td></tr>
<tr><th>checked in</th><td>{{seconds}}</td></tr>
</table>
{{#has_databases}}
<h3>Databases</h3>
<table id="databases">
<tr><th>entry</th><th class="num">size</th><th class="num">tables</th><th>integrity</th><th class="num">foreign-key violations</th><th class="num">user_version</th></tr>
{{#databases}}<tr><td>{{entry}}</td><td class="num">{{bytes}}</td><td class="num">{{tables}}</td><td class="{{^integrity_ok}}error{{/integrity_ok}}">{{integrity}}</td><td class="num">{{fk}}</td><td class="num">{{user_version}}</td></tr>
{{/databases}}
</table>
{{/has_databases}}
{{#has_tables}}
<h3>Tables</h3>
<table id="tables">
<tr><th>database</th><th>table</th><th class="num">rows</th></tr>
{{#tables}}<tr><td>{{database}}</td><td>{{name}}</td><td class="num">{{rows}}</td></tr>
{{/tables}}
</table>
{{/has_tables}}
</section>
{{/facts}}

{{#timeline}}{{#any}}
<section id="timeline">
<h2>This customer's backups (catalog)</h2>
<table>
<tr><th>created (UTC)</th><th class="num">size</th><th>status</th><th>file</th></tr>
{{#rows}}<tr class="{{#current}}current{{/current}}"><td>{{created}}</td><td class="num">{{size}}</td><td class="{{^intact}}error{{/intact}}">{{status}}</td><td>{{path}}{{#current}} (this report){{/current}}</td></tr>
{{/rows}}
</table>
</section>
{{/any}}{{/timeline}}
</body>
</html>
)html";

// One chart (per table or per tenant): {{id}}, {{label}}, {{rows}} and {{folded}}.
inline constexpr std::string_view kChartHtml = R"html(<table id="chart-{{id}}" class="chart">
<tr><th>{{label}}</th><th class="num">lost</th><th class="num">revived</th><th class="num">reverted</th><th>changes</th></tr>
{{#rows}}<tr data-name="{{name}}"><td>{{name}}</td><td class="num">{{lost}}</td><td class="num">{{revived}}</td><td class="num">{{reverted}}</td>
<td><svg width="320" height="12" role="img" aria-label="{{total}} rows"><rect class="lost" x="0" y="0" width="{{w_lost}}" height="12"/><rect class="revived" x="{{x_revived}}" y="0" width="{{w_revived}}" height="12"/><rect class="reverted" x="{{x_reverted}}" y="0" width="{{w_reverted}}" height="12"/></svg></td></tr>
{{/rows}}
{{#folded}}<tr class="folded"><td>and {{count}} more {{what}}</td><td class="num">{{lost}}</td><td class="num">{{revived}}</td><td class="num">{{reverted}}</td><td></td></tr>{{/folded}}
</table>
)html";

inline constexpr std::string_view kReportMarkdown = R"md(# {{title}}

made by restorekit on {{generated_at}}

**Verdict: {{verdict}}.** {{verdict_sentence}}
{{#restore_sentence}}

{{restore_sentence}}
{{/restore_sentence}}
{{#effects}}

## What a restore into {{live}} would do

Rows: **{{lost}}** lost, **{{revived}}** revived, **{{reverted}}** reverted. Predicted downtime: **{{downtime}}**.
{{#tables}}{{#any}}

{{> chart}}{{/any}}{{/tables}}
{{#has_tenants}}{{#tenants}}{{#any}}

{{> chart}}{{/any}}{{/tenants}}{{/has_tenants}}
{{#has_schema_changes}}

Schema differences:
{{#schema_changes}}
- {{text}}
{{/schema_changes}}
{{/has_schema_changes}}
{{#documents}}

Documents: **{{lost}}** lost, **{{revived}}** revived, **{{changed}}** changed, {{unchanged}} unchanged.
{{#has_lost_names}}

Lost (only in the live folder):
{{#lost_names}}
- {{name}}
{{/lost_names}}
{{/has_lost_names}}
{{#has_revived_names}}

Revived (only in the backup):
{{#revived_names}}
- {{name}}
{{/revived_names}}
{{/has_revived_names}}
{{#has_changed_names}}

Changed:
{{#changed_names}}
- {{name}}
{{/changed_names}}
{{/has_changed_names}}
{{/documents}}
{{/effects}}
{{#findings}}

## Findings
{{#none}}

None: nothing to report.
{{/none}}
{{#groups}}

### {{title}} ({{count}})

| code | where | what happened and what to do |
|---|---|---|
{{#items}}
| {{code}} | {{#has_entry}}{{entry}}{{/has_entry}} | {{message}} |
{{/items}}
{{/groups}}
{{/findings}}
{{#facts}}

## The archive

- file: {{path}}
- format: {{format}}, {{made_by}}
{{#has_created}}
- created: {{created}}
{{/has_created}}
- size: {{archive_bytes}} ({{payload}} unpacked, {{entries}} entries)
- documents: {{documents}} files, {{document_bytes}}
{{#has_databases}}

| database | size | tables | integrity | foreign-key violations |
|---|---:|---:|---|---:|
{{#databases}}
| {{entry}} | {{bytes}} | {{tables}} | {{integrity}} | {{fk}} |
{{/databases}}
{{/has_databases}}
{{#has_tables}}

| database | table | rows |
|---|---|---:|
{{#tables}}
| {{database}} | {{name}} | {{rows}} |
{{/tables}}
{{/has_tables}}
{{/facts}}
{{#timeline}}{{#any}}

## This customer's backups (catalog)

| created (UTC) | size | status | file |
|---|---:|---|---|
{{#rows}}
| {{created}} | {{size}} | {{status}} | {{path}}{{#current}} (this report){{/current}} |
{{/rows}}
{{/any}}{{/timeline}}
)md";

inline constexpr std::string_view kChartMarkdown = R"md(| {{label}} | lost | revived | reverted | |
|---|---:|---:|---:|---|
{{#rows}}| {{name}} | {{lost}} | {{revived}} | {{reverted}} | {{blocks}} |
{{/rows}}
{{#folded}}| and {{count}} more {{what}} | {{lost}} | {{revived}} | {{reverted}} | |
{{/folded}}
)md";

}  // namespace restorekit::cli
