//! Workspace-level integration tests: one binary, one module per concern.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod adapter_attack;
mod adapter_attack4;
mod adapter_call_options;
mod adapter_cut_bodies;
mod adapter_deadlines;
mod adapter_download;
mod adapter_enums;
mod adapter_estimate;
mod adapter_hostile;
mod adapter_ids;
mod adapter_jimmyai;
mod adapter_limits;
mod adapter_long;
mod adapter_manage;
mod adapter_null_lists;
mod adapter_reconcile_dates;
mod adapter_reconcile_hostile;
mod adapter_reconcile_paging;
mod adapter_request_ids;
mod adapter_routes;
mod adapter_security;
mod adapter_support;
mod adapter_unknown_task;
mod adapter_upload;
mod adapter_urls;
mod adapter_vmeg;
mod adapter_webhook;
mod docs_named_tests;
mod generated_alone;
mod mock_typed;
mod parking;
mod spec_bounds;
mod spec_examples;
mod typed_ids;
mod webhook_hub;
mod webhook_redis;
mod webhook_types;
mod wire_adapter;
mod wire_jimmyai;
mod wire_vmeg;
