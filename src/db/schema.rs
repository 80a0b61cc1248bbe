//! The one schema both backends share. Written by hand to match
//! `migrations/sqlite` and `migrations/postgres`; keep the three in step.

diesel::table! {
    practice (id) {
        id -> BigInt,
        created_at -> BigInt,
        name -> Nullable<Text>,
        date_style -> Text,
        require_custodian -> Bool,
        packs_changed -> BigInt,
    }
}

diesel::table! {
    therapists (id) {
        id -> BigInt,
        email -> Text,
        display_name -> Text,
        role -> Text,
        status -> Text,
        kdf_salt -> Binary,
        kdf_m_cost -> Integer,
        kdf_t_cost -> Integer,
        kdf_p_cost -> Integer,
        auth_verifier -> Binary,
        dk_sealed_password -> Binary,
        dk_sealed_recovery -> Binary,
        recovery_salt -> Binary,
        created_at -> BigInt,
        last_login_at -> Nullable<BigInt>,
        totp_secret -> Nullable<Binary>,
        totp_last_step -> Nullable<BigInt>,
        backup_codes -> Nullable<Binary>,
        data_format -> Integer,
        credentials -> Text,
        licence -> Text,
        public_key -> Nullable<Binary>,
        private_key_sealed -> Nullable<Binary>,
        licence_level -> Text,
        key_list_version -> BigInt,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        token_hash -> Binary,
        therapist_id -> BigInt,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        csrf_token -> Text,
        dk_sealed -> Binary,
        pending_recovery_code -> Nullable<Binary>,
        user_agent -> Nullable<Text>,
        needs_second_factor -> Bool,
    }
}

diesel::table! {
    login_throttle (key_hash) {
        key_hash -> Binary,
        failures -> Integer,
        first_failure_at -> BigInt,
        locked_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        at -> BigInt,
        therapist_id -> Nullable<BigInt>,
        action -> Text,
        subject_id -> Nullable<BigInt>,
        prev_hash -> Binary,
        hash -> Binary,
    }
}

diesel::joinable!(sessions -> therapists (therapist_id));
diesel::allow_tables_to_appear_in_same_query!(
    practice,
    therapists,
    sessions,
    login_throttle,
    audit_events
);

diesel::table! {
    clients (id) {
        id -> BigInt,
        therapist_id -> BigInt,
        full_name -> Binary,
        preferred_name -> Binary,
        pronouns -> Binary,
        date_of_birth -> Binary,
        about -> Binary,
        archived_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        key_version -> Integer,
        language -> Nullable<Binary>,
    }
}

diesel::table! {
    custom_tags (id) {
        id -> BigInt,
        therapist_id -> BigInt,
        label -> Binary,
        created_at -> BigInt,
    }
}

diesel::table! {
    notes (id) {
        id -> BigInt,
        therapist_id -> BigInt,
        client_id -> BigInt,
        session_date -> Text,
        duration_minutes -> Integer,
        session_type -> Text,
        format -> Text,
        status -> Text,
        revision -> Integer,
        sections -> Binary,
        key_moment -> Binary,
        process_note -> Binary,
        tags -> Binary,
        content_hash -> Nullable<Binary>,
        signed_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        form_id -> Nullable<Text>,
        signed_as -> Nullable<Text>,
        author_id -> BigInt,
        layout -> Nullable<Binary>,
    }
}

diesel::table! {
    note_versions (id) {
        id -> BigInt,
        note_id -> BigInt,
        therapist_id -> BigInt,
        revision -> Integer,
        saved_at -> BigInt,
        format -> Text,
        sections -> Binary,
        key_moment -> Binary,
        process_note -> Binary,
        tags -> Binary,
        author_id -> BigInt,
        layout -> Nullable<Binary>,
    }
}

diesel::table! {
    addenda (id) {
        id -> BigInt,
        note_id -> BigInt,
        therapist_id -> BigInt,
        body -> Binary,
        created_at -> BigInt,
        written_as -> Nullable<Text>,
    }
}

diesel::joinable!(notes -> clients (client_id));
diesel::joinable!(addenda -> notes (note_id));
diesel::allow_tables_to_appear_in_same_query!(addenda, notes);
diesel::allow_tables_to_appear_in_same_query!(clients, notes, therapists);

diesel::table! {
    practice_handouts (id) {
        id -> BigInt,
        slug -> Text,
        title -> Text,
        summary -> Text,
        body -> Text,
        fits -> Text,
        sources -> Text,
        version -> Integer,
        created_by -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
        updated_by -> Nullable<BigInt>,
        lang -> Text,
    }
}

diesel::table! {
    practice_handout_versions (id) {
        id -> BigInt,
        handout_id -> BigInt,
        version -> Integer,
        title -> Text,
        summary -> Text,
        body -> Text,
        fits -> Text,
        written_by -> Nullable<BigInt>,
        written_at -> BigInt,
    }
}

diesel::table! {
    handouts_given (id) {
        id -> BigInt,
        therapist_id -> BigInt,
        client_id -> BigInt,
        slug -> Text,
        version -> Integer,
        text_hash -> Binary,
        body -> Binary,
        personal_note -> Binary,
        paper -> Text,
        large_print -> Bool,
        discreet -> Bool,
        given_at -> BigInt,
        lang -> Text,
    }
}

diesel::table! {
    handout_assessments (slug, version) {
        slug -> Text,
        version -> Integer,
        answers -> Text,
        text_hash -> Text,
        assessed_by -> Nullable<BigInt>,
        assessed_at -> BigInt,
    }
}

diesel::table! {
    handout_links (id) {
        id -> BigInt,
        given_id -> BigInt,
        lookup -> Binary,
        content -> Binary,
        verifier -> Binary,
        code -> Binary,
        lang -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        max_opens -> Integer,
        opens -> Integer,
        first_opened_at -> Nullable<BigInt>,
        last_opened_at -> Nullable<BigInt>,
        ended_at -> Nullable<BigInt>,
        ended_why -> Nullable<Text>,
    }
}

diesel::joinable!(handout_links -> handouts_given (given_id));
diesel::allow_tables_to_appear_in_same_query!(handout_links, handouts_given);

diesel::table! {
    invites (id) {
        id -> BigInt,
        token_hash -> Binary,
        email -> Text,
        role -> Text,
        created_by -> BigInt,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    note_list_versions (therapist_id) {
        therapist_id -> BigInt,
        version -> BigInt,
    }
}

diesel::table! {
    measures (id) {
        id -> BigInt,
        therapist_id -> BigInt,
        client_id -> BigInt,
        taken_on -> Text,
        answers -> Binary,
        created_at -> BigInt,
        entered_in_error_at -> Nullable<BigInt>,
        form_id -> Nullable<Text>,
    }
}

diesel::table! {
    measure_list_versions (therapist_id) {
        therapist_id -> BigInt,
        version -> BigInt,
    }
}

diesel::table! {
    client_keys (client_id, version, holder_id, purpose) {
        client_id -> BigInt,
        version -> Integer,
        holder_id -> BigInt,
        purpose -> Text,
        sender_id -> BigInt,
        sealed -> Binary,
        created_at -> BigInt,
    }
}

diesel::table! {
    key_pins (owner_id, subject_id) {
        owner_id -> BigInt,
        subject_id -> BigInt,
        sealed -> Binary,
    }
}

diesel::table! {
    supervisions (id) {
        id -> BigInt,
        supervisee_id -> BigInt,
        supervisor_id -> BigInt,
        fingerprint -> Text,
        named_by -> BigInt,
        created_at -> BigInt,
        shared_at -> Nullable<BigInt>,
        ended_at -> Nullable<BigInt>,
        rotated_at -> Nullable<BigInt>,
        grant_sealed -> Nullable<Binary>,
    }
}

diesel::table! {
    note_reviews (id) {
        id -> BigInt,
        note_id -> BigInt,
        supervisor_id -> BigInt,
        action -> Text,
        comment -> Nullable<Binary>,
        written_as -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    custodians (therapist_id) {
        therapist_id -> BigInt,
        custodian_id -> BigInt,
        waiting_days -> Integer,
        fingerprint -> Text,
        named_at -> BigInt,
        grant_sealed -> Nullable<Binary>,
    }
}

diesel::table! {
    custody_requests (id) {
        id -> BigInt,
        therapist_id -> BigInt,
        custodian_id -> BigInt,
        requested_at -> BigInt,
        release_at -> BigInt,
        refused_at -> Nullable<BigInt>,
        cancelled_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    transfers (id) {
        id -> BigInt,
        client_id -> BigInt,
        from_id -> BigInt,
        to_id -> BigInt,
        offered_by -> BigInt,
        offered_at -> BigInt,
        accepted_at -> Nullable<BigInt>,
        declined_at -> Nullable<BigInt>,
        cancelled_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(note_reviews -> notes (note_id));
diesel::allow_tables_to_appear_in_same_query!(
    client_keys,
    clients,
    note_reviews,
    supervisions,
    custodians,
    custody_requests,
    transfers
);
diesel::allow_tables_to_appear_in_same_query!(notes, note_reviews);
diesel::allow_tables_to_appear_in_same_query!(notes, client_keys);
diesel::allow_tables_to_appear_in_same_query!(therapists, supervisions);
diesel::allow_tables_to_appear_in_same_query!(therapists, custodians);
diesel::allow_tables_to_appear_in_same_query!(therapists, custody_requests);
diesel::allow_tables_to_appear_in_same_query!(therapists, transfers);
diesel::allow_tables_to_appear_in_same_query!(therapists, client_keys);
diesel::allow_tables_to_appear_in_same_query!(therapists, note_reviews);

diesel::table! {
    pack_keys (key_id) {
        key_id -> Text,
        public_key -> Text,
        trusted_by -> Nullable<BigInt>,
        trusted_at -> BigInt,
    }
}

diesel::table! {
    packs (id) {
        id -> BigInt,
        pack_id -> Text,
        version -> Integer,
        files -> Text,
        uploaded_by -> BigInt,
        uploaded_at -> BigInt,
    }
}

diesel::table! {
    pack_terms (term) {
        term -> Text,
        label -> Text,
        help -> Text,
        pack_name -> Text,
        recorded_at -> BigInt,
    }
}

diesel::table! {
    inbox_tokens (id) {
        id -> BigInt,
        therapist_id -> BigInt,
        name -> Binary,
        token_hash -> Binary,
        key_tag -> Binary,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
        window_start -> BigInt,
        window_count -> Integer,
    }
}

diesel::table! {
    inbox_drafts (id) {
        id -> BigInt,
        therapist_id -> BigInt,
        token_id -> BigInt,
        sealed -> Binary,
        received_at -> BigInt,
    }
}
