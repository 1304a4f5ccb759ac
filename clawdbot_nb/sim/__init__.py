"""A faithful offline simulator of the Anthropic HTTP API, prompt caching included.

Every feature of clawdbot_nb is tested through the official `anthropic` SDK against this
simulator, so each documented rule of `shared/reference/anthropic-api.md` holds here, and a
client written for the real API works against it unchanged. Quick start::

    from clawdbot_nb import sim
    simulator = sim.Simulator()                       # accepts sim.DEMO_API_KEY and friends
    client = anthropic.Anthropic(api_key=sim.DEMO_API_KEY, base_url="http://localhost",
                                 http_client=httpx2.Client(transport=simulator.transport()))
    with sim.serve(simulator) as server:              # or over loopback HTTP
        ...  # ANTHROPIC_BASE_URL=server.base_url
    simulator.clock.advance("6m"); simulator.faults.next(status=429); simulator.requests

Layout: `core` (routing, one request in, one response out) over `credentials`, `oauth`,
`validation`, `prefix` and `cache` (the cache model), `usage`, `replies` (with `tool_use`, when
the model calls tools, and `json_schema`, instances of a schema), `streaming`, `batches`,
`models`, `diagnostics`, `faults`, `ratelimits`, `latency`, `clock`, `request_log` (a ring of
the newest 10,000 records by default); front-ends `transport` (in-process httpx2) and `server`
(loopback HTTP); `cli` (`clawdbot-nb sim serve`, `sim env`). Counting (`bpe`, `positions`) and
model facts (`model_facts`) are the simulator's own: it imports nothing of the client, so it can
disagree with it.

Token counts. `bpe` runs the BPE vocabulary the Anthropic SDK shipped as `tokenizer.json` up to
0.38 (vendored under `vocab/`, MIT, sha256 and origin in `vocab/README.md`) through Hugging Face
`tokenizers`; `positions` adds the framing of each block (tool 4, first system block 2, first
block of a message 3, 4 trailing). That vocabulary is Claude 2's, older than every model served
here. Anthropic publishes no ratio between it and Claude 3 to 4.6 (only that it is no longer
accurate, anthropic-sdk-python#375), so those models use its counts as they are (factor 1.0);
Claude 4.7 and later count about 30 % more for the same text (reference §8, the Haiku 5.5 model
page), so their counts are x1.3, rounded half up per position. The counts are therefore close to
the real API's, not equal; what the tests need is that they come from a real vocabulary the
client does not share, so prose, code, JSON and non-Latin text each count differently from the
client's estimate and a counting mistake there shows up as a disagreement.

Tool use (`tool_use`). Only custom tools are called. `tool_choice` `none` never calls, `tool`
calls the named tool, `any` the tools asked for or else the first; `auto` (the default) calls
the tools the last user turn asks for, in the order it mentions them: a tool is asked for when
the turn names it (`get_weather`, `get weather`) or its subject (a word of its name other than a
generic verb: `weather`, `forecasts`), unless the turn carries tool results (then the answer is
text from them: `Based on get_weather: ...`), declines tools ("do not use tools") or asks for an
exact reply (`Reply with X`). Several tools asked for are called in parallel unless
`disable_parallel_tool_use`. Arguments validate against each `input_schema` (`json_schema`),
steered by `name: value` in the text or, for the first string property, a quoted phrase or the
phrase after a final "in/for/about/of/on/at" ("the weather in SF" gives `"SF"`).

Structured output. With `output_config.format` of type `json_schema` the reply's text is JSON
that validates against the schema (`json_schema.instance`: deterministic; `name: value` in the
prompt steers a property; constraints the SDK moves into descriptions, `{minItems: 2}`, are
followed), or the `Reply with X` text when X is JSON that validates.

Rules and their tests (Ref: section of the reference; "brief" the simulator issue, "DESIGN"
the project contracts). `tests/sim/test_rules_table.py` checks every test named here exists.

| Rule                             | Ref         | Test                                                      |
|----------------------------------|-------------|-----------------------------------------------------------|
| SDK sync client, both transports | §9.2 §11.1  | `test_reply_with_answers_exactly`                         |
| SDK async client                 | §9.6        | `test_async_client_creates_messages`                      |
| SDK via ANTHROPIC_BASE_URL       | §9.2        | `test_unmodified_sdk_works_through_environment`           |
| Setup-token via SDK env vars     | §9.2        | `test_setup_token_through_environment_variables`          |
| Server start/stop without with   | brief       | `test_start_and_stop_without_a_with_block`                |
| Server keep-alive                | brief       | `test_one_client_reuses_its_keep_alive_connection`        |
| sim serve: URL, masked creds     | brief       | `test_sim_serve_prints_url_and_masked_credentials`        |
| sim serve: keys, credential file | brief       | `test_sim_serve_extra_keys_and_credentials_file`          |
| sim serve: bad file in one line  | DESIGN      | `test_sim_serve_bad_credentials_file_one_line`            |
| sim env: export lines work       | brief       | `test_sim_env_export_lines_point_the_sdk_at_it`           |
| sim env: 80 columns, bad port    | DESIGN      | `test_sim_env_fits_80_columns_bad_port_one_line`          |
| count_tokens = own BPE total     | §8 §9.7     | `test_count_tokens_is_the_vocabularys_bpe_total`          |
| count_tokens takes cache_control | §2.5        | `test_count_tokens_accepts_cache_control`                 |
| count_tokens validates           | §9.7        | `test_count_tokens_checks_the_body_and_model`             |
| Models list with lifecycles      | §7          | `test_models_list_covers_every_model_with_lifecycles`     |
| Models: context, capabilities    | §7, SDK     | `test_models_report_context_window_and_capabilities`      |
| Output caps: model pages (below) | §7          | `test_output_cap_per_model_as_documented`                 |
| Models retrieve; unknown 404     | §7          | `test_models_retrieve`                                    |
| Reply with X answers exactly X   | brief       | `test_reply_with_answers_exactly`                         |
| Default reply: echo + length     | brief       | `test_default_reply_echoes_and_has_set_length`            |
| max_tokens cuts: max_tokens stop | §4.1        | `test_max_tokens_truncates_with_stop_reason`              |
| stop_sequences                   | brief       | `test_stop_sequence_cuts_the_reply`                       |
| Forced tool_choice: tool_use     | brief       | `test_forced_tool_choice_returns_tool_use`                |
| Auto tool use: what is asked for | brief       | `test_auto_tool_use_calls_what_the_prompt_asks_for`       |
| Auto: declined, none, exact text | brief       | `test_auto_tool_choice_answers_in_text`                   |
| any / tool force a call          | brief       | `test_any_and_named_tool_choice_force_a_call`             |
| Parallel calls; disable_parallel | brief       | `test_parallel_calls_when_several_tools_are_asked_for`    |
| Arguments valid for input_schema | brief       | `test_arguments_validate_against_each_input_schema`       |
| Schema instances always validate | brief       | `test_schema_instances_validate_for_any_schema`           |
| Text answer after tool_result    | brief       | `test_the_sdk_tools_example_ends_with_a_text_answer`      |
| is_error result in the answer    | brief       | `test_an_error_result_is_reported_in_the_answer`          |
| Parallel calls: input_json_delta | §4.2        | `test_stream_parallel_tool_calls_send_input_json_deltas`  |
| SDK tool runner, sync + stream   | §9.6        | `test_sdk_tool_runner_runs_to_a_final_answer`             |
| SDK async tool runner            | §9.6        | `test_async_sdk_tool_runner`                              |
| thread: unsupported_request 400  | brief       | `test_thread_requests_get_unsupported_request`            |
| Structured output: valid JSON    | brief       | `test_json_schema_format_gives_json_that_validates`       |
| Reply with valid JSON: used      | brief       | `test_reply_with_valid_json_is_used_as_is`                |
| messages.parse() with pydantic   | §9.6        | `test_messages_parse_fills_a_pydantic_model`              |
| Streamed structured output       | §9.6        | `test_streamed_structured_output_parses_too`              |
| Malformed output_config: 400     | §5.2        | `test_a_malformed_format_is_400`                          |
| Thinking block first             | brief       | `test_thinking_block_comes_first`                         |
| Assistant prefill accepted       | brief       | `test_final_assistant_prefill_is_accepted`                |
| Unknown model: 404 model: <id>   | §7 §12      | `test_unknown_model_is_404_with_model_message`            |
| Retired model: 404 model: <id>   | §1 §7       | `test_retired_model_is_404`                               |
| max_tokens over model max: 400   | §9.4        | `test_max_tokens_above_model_limit_is_400`                |
| 2026-10-21 rejects temperature   | §5.2 §11.2  | `test_new_api_version_rejects_temperature`                |
| 2023-06-01 accepts temperature   | §11.2       | `test_old_api_version_accepts_sampling_parameters`        |
| Usage: cache fields, tier, geo   | §4.1 §11.7  | `test_usage_always_has_cache_fields_service_tier_and_geo` |
| input_tokens = T uncached        | §4.1        | `test_input_tokens_equal_count_tokens_without_caching`    |
| inference_geo us reported        | §6.1        | `test_inference_geo_us_is_reported`                       |
| request-id, org, workspace       | §5.3        | `test_response_headers_request_id_org_workspace`          |
| Request ids globally unique      | §5.3        | `test_request_ids_are_unique_across_simulators`           |
| SSE event order, ping            | §4.2 §11.8  | `test_stream_event_sequence`                              |
| message_start/_delta usage       | §4.2        | `test_stream_usage_in_message_start_and_delta`            |
| Stream cache usage in SDK final  | §4.2        | `test_streamed_cache_usage_reaches_the_sdk_final_message` |
| Stream = non-stream reply        | brief       | `test_stream_final_message_matches_non_streaming`         |
| input_json_delta for tool_use    | §4.2        | `test_stream_tool_use_sends_input_json_deltas`            |
| thinking/signature deltas        | §4.2        | `test_stream_thinking_and_signature_deltas`               |
| Async streaming                  | §9.6        | `test_async_stream`                                       |
| Write then read; totals add up   | §4.1        | `test_first_call_writes_second_call_reads`                |
| Below minimum: no cache, no 400  | §3.4        | `test_below_minimum_nothing_is_cached`                    |
| Minimum per model; 1.3x tokens   | §3.4 §8     | `test_minimum_is_per_model`                               |
| Minimum overridable              | §3.4        | `test_minimum_can_be_overridden_per_simulator`            |
| Order tools, system, messages    | §2.3        | `test_prefix_order_is_tools_system_messages`              |
| cache_control not in the prefix  | §2.4        | `test_moving_a_breakpoint_keeps_the_prefix`               |
| 5m TTL on the virtual clock      | §3.3        | `test_5m_entry_expires_after_five_minutes`                |
| A hit refreshes the TTL          | §3.3 §11.5  | `test_hit_refreshes_the_ttl`                              |
| 1h TTL                           | §2.1 §3.3   | `test_1h_entry_outlives_5m_and_expires_after_an_hour`     |
| Mixed TTL A/B/C accounting       | §2.6 §4.1   | `test_mixed_ttl_accounting_follows_abc`                   |
| read(n+1) = read(n) + write(n)   | §10 §11.12  | `test_cookbook_identity_read_next_equals_read_plus_write` |
| Lookback 20 blocks               | §2.4        | `test_lookback_finds_an_entry_within_20_blocks`           |
| Lookback from earlier breakpoint | §2.4        | `test_lookback_resumes_from_an_earlier_breakpoint`        |
| Lookback counts the breakpoint   | §2.4        | `test_lookback_window_includes_the_breakpoint_itself`     |
| Lookback: a tool run = 1 slot    | §2.4, docs  | `test_lookback_counts_a_tool_run_as_one_position`         |
| Automatic caching moves forward  | §2.5        | `test_automatic_caching_moves_forward`                    |
| Automatic walks back             | §2.5        | `test_automatic_caching_walks_back_to_cacheable`          |
| Automatic + same TTL: no-op      | §2.5        | `test_automatic_with_same_explicit_ttl_is_a_no_op`        |
| Automatic + other TTL: 400       | §2.5 §11.4  | `test_automatic_ttl_conflicting_with_last_block_is_400`   |
| Automatic + 4 explicit: 400      | §2.5 §11.4  | `test_automatic_plus_four_explicit_breakpoints_is_400`    |
| Over 4 breakpoints: live text    | §2.3        | `test_more_than_four_breakpoints_is_400`                  |
| 1h after 5m: 400                 | §2.3        | `test_one_hour_after_five_minutes_is_400`                 |
| Tools change: all invalid        | §3.2        | `test_changing_tools_invalidates_everything`              |
| Model switch: all invalid        | §3.1 §3.2   | `test_switching_model_invalidates_everything`             |
| System edit: tools kept          | §3.2        | `test_editing_system_keeps_the_tools_prefix`              |
| speed, web search: tools kept    | §3.2        | `test_speed_and_web_search_toggles_keep_tools_only`       |
| tool_choice, thinking: sys kept  | §3.2        | `test_tool_choice_and_thinking_keep_tools_and_system`     |
| effort: messages invalidated     | §3.2, docs  | `test_changing_effort_invalidates_the_messages_part`      |
| Defaults spelled out: no change  | §3.2        | `test_spelling_out_a_default_keeps_the_whole_prefix`      |
| Images: messages invalid         | §3.2        | `test_adding_an_image_invalidates_messages`               |
| tool_use key order matters       | §3.1        | `test_reordered_tool_use_input_keys_miss`                 |
| Isolated per workspace           | §3.1        | `test_cache_is_isolated_per_workspace`                    |
| Isolated per organisation        | §3.1        | `test_cache_is_isolated_per_organization`                 |
| Visible once response begins     | §3.3 §11.6  | `test_entry_usable_once_the_response_begins`              |
| Parallel identical: all pay      | §3.3        | `test_parallel_identical_requests_both_pay_full_price`    |
| max_tokens 0 pre-warms           | §3.5        | `test_prewarm_with_max_tokens_zero`                       |
| max_tokens 0 rejections          | §3.5        | `test_prewarm_rejections`                                 |
| max_tokens 0 in a batch: error   | §3.5 §9.8   | `test_invalid_params_become_errored_results`              |
| Reads not rate-limited           | §3.3 §5.3   | `test_cache_reads_not_deducted_from_rate_limit`           |
| reset_cache                      | brief       | `test_reset_cache_forgets_every_entry`                    |
| Diagnostics: null if reusable    | §3.6        | `test_no_divergence_gives_null`                           |
| Diagnostics: miss reasons        | §3.6        | `test_cache_miss_reasons`                                 |
| Diagnostics: not found           | §3.6        | `test_unknown_previous_message`                           |
| Diagnostics: opt-in fingerprints | §3.6        | `test_fingerprints_only_for_requests_with_diagnostics`    |
| API key as Bearer (SDK 2.x)      | §9.2        | `test_sdk_sends_api_keys_as_bearer_and_they_work`         |
| API key in x-api-key             | §11.2       | `test_api_key_in_x_api_key_header`                        |
| x-api-key wins over Bearer       | §9.2 §11.2  | `test_x_api_key_wins_when_both_headers_are_sent`          |
| Real 401 texts                   | §5.2        | `test_unknown_credentials_get_the_real_401_texts`         |
| OAuth: Bearer + oauth beta       | §9.2        | `test_setup_token_needs_bearer_and_the_oauth_beta`        |
| OAuth token in x-api-key: 401    | §9.2        | `test_oauth_token_as_x_api_key_is_rejected`               |
| oauth beta among others          | §9.3        | `test_oauth_beta_among_other_betas_is_accepted`           |
| SDK provider adds the beta       | §9.3        | `test_sdk_credentials_provider_adds_oauth_beta`           |
| SDK TokenCache 401 retry         | §9.3        | `test_sdk_token_cache_recovers_from_a_401`                |
| Expired OAuth token: 401         | §5.2        | `test_expired_oauth_access_token_is_401`                  |
| Expired setup-token: 401         | §5.2        | `test_expired_setup_token_is_401`                         |
| Revoked key or login: 401        | §5.2        | `test_revoked_credentials_are_401`                        |
| Headers follow the credential    | §5.3        | `test_headers_follow_the_credentials_workspace`           |
| Demo credentials: real shapes    | brief       | `test_demo_credentials_real_shapes_obviously_fake`        |
| demo=False: no demo credentials  | brief       | `test_without_demo_the_demo_key_is_rejected`              |
| Credentials JSON file            | brief       | `test_credentials_file_registers_keys_tokens_and_logins`  |
| Bad file: file, line, fix        | DESIGN      | `test_bad_credentials_file_names_file_line_and_fix`       |
| Refresh rotates both tokens      | brief       | `test_refresh_rotates_both_tokens`                        |
| Reused refresh: invalid_grant    | brief       | `test_a_used_refresh_token_fails_with_invalid_grant`      |
| Unknown refresh: invalid_grant   | brief       | `test_unknown_refresh_token_fails_the_same_way`           |
| Refresh token lifetime           | brief       | `test_refresh_token_past_its_lifetime_is_expired`         |
| Revoked login cannot refresh     | brief       | `test_revoked_login_cannot_refresh`                       |
| Access expiry, virtual clock     | brief       | `test_access_tokens_expire_on_the_virtual_clock`          |
| Old access token until expiry    | brief       | `test_previous_access_token_valid_until_expiry`           |
| Bad token requests: RFC 6749     | brief       | `test_malformed_token_requests`                           |
| Token endpoint faults            | brief       | `test_token_endpoint_fault_keeps_refresh_usable`          |
| Form-encoded token request       | brief       | `test_form_encoded_refresh_is_accepted`                   |
| Demo OAuth login                 | brief       | `test_demo_oauth_login_is_registered_and_refreshable`     |
| Refresh race: one wins, counted  | brief       | `test_refresh_race_one_wins_every_call_counted`           |
| SDK user_oauth refresh works     | §9.3        | `test_sdk_user_oauth_profile_refreshes_unchanged`         |
| Error body + request-id          | §5.1 §11.9  | `test_error_body_is_exactly_the_api_shape`                |
| 429 retry-after, ratelimit-*     | §5.3 §11.9  | `test_429_carries_retry_after_and_ratelimit_headers`      |
| Ratelimit headers on success     | §5.3        | `test_successful_responses_report_rate_limits`            |
| SDK retries after retry-after    | §9.4        | `test_sdk_retries_a_429_after_retry_after`                |
| x-should-retry: false            | §9.4 §11.9  | `test_x_should_retry_false_stops_sdk_retries`             |
| 500, 529, 402, 401, 403          | §5.2        | `test_scripted_status_faults`                             |
| Faults per credential            | brief       | `test_fault_scoped_to_one_credential`                     |
| Faults per endpoint              | brief       | `test_fault_can_target_another_endpoint`                  |
| Random faults, seeded            | brief       | `test_rate_faults_are_seeded_and_repeatable`              |
| SSE error after HTTP 200         | §4.2 §5.2   | `test_sse_error_event_after_http_200`                     |
| Connection dropped mid-stream    | brief       | `test_connection_dropped_mid_stream`                      |
| Fault rules inspectable          | brief       | `test_faults_api_reports_pending_rules`                   |
| Malformed JSON: 400              | §5.2        | `test_malformed_json_is_400`                              |
| Body must be an object           | §5.2        | `test_body_must_be_a_json_object`                         |
| Missing model, max_tokens, ...   | §5.2        | `test_missing_required_field_is_400`                      |
| Wrong role                       | §5.2        | `test_wrong_role_is_400`                                  |
| Unknown block type               | §5.2        | `test_unknown_block_type_is_400`                          |
| Block type wrong for the role    | §2.2 §5.2   | `test_block_type_not_allowed_for_role_is_400`             |
| cache_control on thinking        | §2.2        | `test_cache_control_on_thinking_block_is_400`             |
| cache_control on empty text      | §2.2 §12    | `test_cache_control_on_empty_text_block_is_400`           |
| Empty or blank text blocks       | §3.5        | `test_empty_and_whitespace_text_blocks_are_400`           |
| Empty message content            | §5.2        | `test_empty_message_content_is_400`                       |
| Prefill ending in whitespace     | §5.2        | `test_final_assistant_trailing_whitespace_is_400`         |
| cache_control shape              | §2.1        | `test_bad_cache_control_is_400`                           |
| Citations on user text           | §5.2        | `test_citations_on_a_user_text_block_are_400`             |
| max_tokens integer >= 0          | §3.5        | `test_negative_or_non_integer_max_tokens_is_400`          |
| Too large: 413                   | §5.2        | `test_body_over_the_size_limit_is_413`                    |
| Size limit is 32 MB              | §5.2        | `test_the_default_limit_is_32_megabytes`                  |
| Unknown path 404, method 405     | brief       | `test_unknown_path_is_404_and_wrong_method_is_405`        |
| Internal failure: 500, survives  | brief       | `test_internal_failure_is_500_then_serving_goes_on`       |
| Garbage, disconnects: survives   | brief       | `test_server_keeps_serving_after_garbage_and_disconnects` |
| Batch results JSONL, tier batch  | §9.8        | `test_batch_create_retrieve_and_results_priced_as_batch`  |
| Batch in_progress, clock         | §9.8        | `test_batch_stays_in_progress_until_the_clock_moves`      |
| Batch cancel                     | §9.8        | `test_batch_cancel_before_processing`                     |
| Batch expires after 24 h         | §9.8        | `test_batch_not_processed_within_24_hours_expires`        |
| Batch errored results            | §9.8        | `test_invalid_params_become_errored_results`              |
| Batch create validation          | §9.8        | `test_batch_create_validation_is_400`                     |
| Batch list, newest first         | §9.8        | `test_batch_list_pages_newest_first`                      |
| Batch delete                     | §9.8        | `test_batch_delete`                                       |
| Batches per workspace            | §3.1        | `test_batches_are_visible_only_in_their_workspace`        |
| Batch caching best-effort        | §9.8        | `test_batch_requests_use_the_prompt_cache_best_effort`    |
| Batch results_url on the host    | §9.8        | `test_batch_results_url_points_at_the_server`             |
| Clock frozen, advanced           | §11.6       | `test_clock_is_frozen_and_moves_only_when_advanced`       |
| Clock duration strings           | brief       | `test_duration_strings`                                   |
| Request log fields               | brief       | `test_log_records_what_a_test_needs`                      |
| Log holds no raw secret          | DESIGN      | `test_log_never_holds_a_raw_secret`                       |
| Request log: a bounded ring      | brief       | `test_request_log_is_a_bounded_ring`                      |
| Soak, 20,000 requests: bounded   | brief       | `test_soak_20000_requests_keep_the_log_at_its_bound`      |
| Masking: prefix + last 4         | DESIGN      | `test_masking_keeps_only_prefix_and_last_four`            |
| Latency off by default           | brief       | `test_latency_is_off_by_default`                          |
| Latency: a hit is faster         | §10         | `test_a_cache_hit_is_faster_than_a_miss`                  |
| Latency: output spread           | brief       | `test_streaming_spreads_output_over_time`                 |
| Own BPE vocabulary, sha256       | §8          | `test_vocabulary_is_vendored_with_its_sha256`             |
| BPE counts of known texts        | §8          | `test_bpe_counts_of_known_texts`                          |
| Replies cut at token pieces      | §8          | `test_token_pieces_rebuild_the_text_and_add_up`           |
| Damaged vocabulary: one line     | DESIGN      | `test_a_damaged_vocabulary_names_the_file_and_the_fix`    |
| 1.3x tokens on Claude 4.7+       | §8          | `test_new_tokenizer_counts_thirty_percent_more`           |
| Positions: order, framing, slots | §2.3 §2.4   | `test_request_positions_prefix_order_framing_and_slots`   |
| Image tokens from header size    | §8          | `test_image_tokens_come_from_the_header_size`             |
| Counting never raises            | brief       | `test_never_raises_on_odd_input`                          |

Model limits (`model_facts`; `max_tokens` above the output cap is a 400), checked 2026-11:

| Models                                            | Context | Max output | Source                      |
|---------------------------------------------------|---------|------------|-----------------------------|
| Opus 5.5, Sonnet 5.5, Fable 5.1                   | 1M      | 128K       | lineup table [1]            |
| Haiku 5.5, Fable 5.2, Opus 5, Sonnet 5, Opus 4.8  | 1M      | 128K       | model page [2]              |
| Opus 4.6, Sonnet 4.6 (was 64K here)               | 1M      | 128K       | model page [2]              |
| Fable 5, Mythos 5                                 | 1M      | 128K       | Fable 5 page [2]            |
| Mythos 5.2, Opus 4.7                              | 1M      | 128K       | Bedrock model card [3]      |
| Mythos 5.1, Mythos Preview                        | 1M      | 128K       | unconfirmed: no page found  |
| Haiku 4.5, Opus 4.5, Sonnet 4.5                   | 200K    | 64K        | model page [2]              |
| Opus 4.1, Opus 4 / Sonnet 4 / Haiku 3.5 (retired) | 200K    | 32K/64K/8K | not re-checked (retired)    |

[1] platform.claude.com/docs/en/models/haiku-5-5/overview, "How it compares";
[2] platform.claude.com/docs/en/models/<model>/overview ("Context window · Max output");
[3] docs.aws.amazon.com/bedrock/latest/userguide/model-card-anthropic-claude-<model>.
Capabilities in `/v1/models` follow the pages' "Thinking" column (extended; adaptive and
extended on 4.6; adaptive only from Opus 4.7, "always on" for Fable, Mythos and Opus 5.5) and
effort levels (none on Haiku 4.5 and Sonnet 4.5, xhigh from 4.7); the other flags are reported
as supported. They are reported, not enforced.

Texts the real API is not confirmed to use (reference §12; same status and error type as the
API, wording chosen here): the automatic-caching TTL conflict, the `max_tokens: 0` rejections,
`messages: at least one message is required`, a block type not allowed for its role, the
revoked-OAuth 401, `invalid_client` from the token endpoint, `anthropic-version` errors, the
405, and the batch errors (not found, delete while processing, results before the end).

Knowingly not simulated:
- Model output: replies are deterministic templates (`replies`, `tool_use`); server tools (web
  search, code execution, ...) are accepted as definitions but never run; no `server_tool_use`
  usage; no tool-use system prompt tokens are added to the input count.
- Message threads (beta `thread`): every request with `thread` gets the API's 400 with
  `error_code: thread_unsupported_request`, after which the SDK's tool runner sends full
  histories (its documented fallback); the conversation is never stored server-side.
- Thinking details: earlier-turn thinking blocks are counted and cached like other blocks (the
  API may strip them); the model-dependent invalidation of non-tool-result user content in
  thinking requests (§3.2) is not modelled; `budget_tokens` does not bound the thought.
- Mid-conversation `system` messages are accepted on every model (the API: some models only).
- Rate limits are reported per credential, never enforced (429s come from fault injection);
  no priority tier, context-window limits, or `model_context_window_exceeded`.
- Expired cache entries vanish exactly at their TTL (the API: "promptly, though not
  immediately"); an entry re-marked with the other TTL keeps its original TTL.
- Batches process all at once when due (not gradually); cancel after the end is a no-op;
  results never get archived. No pricing: the simulator reports usage, the api layer prices it.
- Platforms other than the first-party API, the `anthropic-workspace-id` request header,
  Files/Skills/Admin APIs, OAuth grants other than `refresh_token`, citations output.
- `cache_control` on blocks nested in a `tool_result` (or a document's content) is validated
  but not used as a breakpoint; mark the enclosing block instead.
- Conversation-shape checks such as every `tool_use` being answered by a `tool_result`.
- Exact token counts of today's models: the vocabulary is Claude 2's, scaled (see above).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clawdbot_nb.sim.clock import VirtualClock, parse_duration
    from clawdbot_nb.sim.core import SimRequest, SimResponse, Simulator
    from clawdbot_nb.sim.credentials import OAuthLogin, fingerprint, mask_secret
    from clawdbot_nb.sim.demo import (
        CLAUDE_CODE_CLIENT_ID,
        DEMO_API_KEY,
        DEMO_OAUTH_ACCESS_TOKEN,
        DEMO_OAUTH_REFRESH_TOKEN,
        DEMO_ORGANIZATION_ID,
        DEMO_SETUP_TOKEN,
        DEMO_WORKSPACE_ID,
    )
    from clawdbot_nb.sim.faults import Fault, FaultInjector
    from clawdbot_nb.sim.latency import LatencyModel
    from clawdbot_nb.sim.request_log import RequestLog, RequestRecord
    from clawdbot_nb.sim.server import SimServer, serve, start_server

# Public name → defining module. Loaded on first use so `import clawdbot_nb.sim` stays cheap.
_EXPORTS: dict[str, str] = {
    "Simulator": "core",
    "SimRequest": "core",
    "SimResponse": "core",
    "VirtualClock": "clock",
    "parse_duration": "clock",
    "OAuthLogin": "credentials",
    "fingerprint": "credentials",
    "mask_secret": "credentials",
    "Fault": "faults",
    "FaultInjector": "faults",
    "LatencyModel": "latency",
    "RequestLog": "request_log",
    "RequestRecord": "request_log",
    "SimServer": "server",
    "serve": "server",
    "start_server": "server",
    "CLAUDE_CODE_CLIENT_ID": "demo",
    "DEMO_API_KEY": "demo",
    "DEMO_OAUTH_ACCESS_TOKEN": "demo",
    "DEMO_OAUTH_REFRESH_TOKEN": "demo",
    "DEMO_ORGANIZATION_ID": "demo",
    "DEMO_SETUP_TOKEN": "demo",
    "DEMO_WORKSPACE_ID": "demo",
}

__all__ = [
    "CLAUDE_CODE_CLIENT_ID",
    "DEMO_API_KEY",
    "DEMO_OAUTH_ACCESS_TOKEN",
    "DEMO_OAUTH_REFRESH_TOKEN",
    "DEMO_ORGANIZATION_ID",
    "DEMO_SETUP_TOKEN",
    "DEMO_WORKSPACE_ID",
    "Fault",
    "FaultInjector",
    "LatencyModel",
    "OAuthLogin",
    "RequestLog",
    "RequestRecord",
    "SimRequest",
    "SimResponse",
    "SimServer",
    "Simulator",
    "VirtualClock",
    "fingerprint",
    "mask_secret",
    "parse_duration",
    "serve",
    "start_server",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'clawdbot_nb.sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"clawdbot_nb.sim.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
