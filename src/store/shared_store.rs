//! The one `Store` implementation every backend shares: each method a call into its aggregate's statements in
//! `shared`, over the connection and hooks a `Backend` provides. Must never hold SQL itself, nor anything
//! specific to one database.
use async_trait::async_trait;

use super::backend::Backend;
use super::code_limits;
use super::shared::{
    codes, keys, oauth, pools, registration, revocations, sessions, tokens, users,
};
use super::sql::Conn;
use super::{
    AuthCodeRow, ClientOAuth, ClientRow, CodeAttempt, CodeCheck, CodeEffect, CodeEvent, CodeFlows,
    CodeGate, CodeRow, GrantRow, KeyRow, PasswordUpdate, PoolRow, RedeemOutcome, RefreshRow,
    ResourceServerRow, RevocationRow, RotateOutcome, SessionOwner, SsoSessionRow, Store,
    StoreError, UserRow,
};
use crate::store::ids::{ClientId, PoolId, Sub};

#[async_trait]
impl<B: Backend> Store for B {
    async fn ping(&self) -> Result<(), StoreError> {
        let mut c = self.pool().acquire().await?;
        c.exec("SELECT 1", &[]).await?;
        Ok(())
    }

    fn changes(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        Backend::changes(self)
    }

    fn shared(&self) -> bool {
        Backend::shared(self)
    }

    async fn put_pending(
        &self,
        key_hash: &str,
        payload: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut c = self.pool().acquire().await?;
        sessions::put_pending(&mut *c, key_hash, payload, expires_at, now).await
    }

    async fn take_pending(&self, key_hash: &str, now: i64) -> Result<Option<String>, StoreError> {
        let mut c = self.pool().acquire().await?;
        sessions::take_pending(&mut *c, key_hash, now).await
    }

    #[tracing::instrument(skip_all)]
    async fn ensure_default_pool(
        &self,
        pool: PoolRow,
        client: ClientRow,
    ) -> Result<(PoolRow, ClientRow), StoreError> {
        let mut tx = self.pool().begin().await?;
        let rows = pools::ensure_default(&mut *tx, &pool, &client).await?;
        tx.commit().await?;
        Ok(rows)
    }

    async fn clients(&self, pool_id: &PoolId) -> Result<Vec<ClientRow>, StoreError> {
        let mut c = self.pool().acquire().await?;
        pools::clients(&mut *c, pool_id).await
    }

    #[tracing::instrument(skip_all, fields(client_id = %client.id))]
    async fn create_client(&self, client: ClientRow) -> Result<(), StoreError> {
        let mut c = self.pool().acquire().await?;
        pools::create_client(&mut *c, &client).await
    }

    #[tracing::instrument(skip_all, fields(%client_id))]
    async fn set_client_oauth(
        &self,
        pool_id: &PoolId,
        client_id: &ClientId,
        settings: &ClientOAuth,
    ) -> Result<(), StoreError> {
        let mut c = self.pool().acquire().await?;
        pools::set_client_oauth(&mut *c, pool_id, client_id, settings).await
    }

    async fn signing_keys(&self, pool_id: &PoolId) -> Result<Vec<KeyRow>, StoreError> {
        let mut c = self.pool().acquire().await?;
        keys::live(&mut *c, pool_id).await
    }

    #[tracing::instrument(skip_all, fields(kid = %key.kid))]
    async fn insert_signing_key(&self, key: KeyRow) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        keys::insert(&mut *tx, &key).await?;
        B::announce_key(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(username = %user.username))]
    async fn create_user(&self, user: UserRow) -> Result<(), StoreError> {
        let mut c = self.pool().acquire().await?;
        Ok(users::insert(&mut *c, &user).await?)
    }

    #[tracing::instrument(skip_all, fields(username = %user.username))]
    async fn create_user_with_code(&self, user: UserRow, code: CodeRow) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        users::insert(&mut *tx, &user).await?;
        codes::insert(&mut *tx, &code).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_user(&self, pool_id: &PoolId, username: &str) -> Result<UserRow, StoreError> {
        let mut c = self.pool().acquire().await?;
        users::find_by(&mut *c, users::ByColumn::Username, pool_id, username).await
    }

    async fn find_user_by_sub(&self, pool_id: &PoolId, sub: &Sub) -> Result<UserRow, StoreError> {
        let mut c = self.pool().acquire().await?;
        users::find_by(&mut *c, users::ByColumn::Sub, pool_id, sub.as_str()).await
    }

    async fn list_users(&self, pool_id: &PoolId) -> Result<Vec<UserRow>, StoreError> {
        let mut c = self.pool().acquire().await?;
        users::list(&mut *c, pool_id).await
    }

    #[tracing::instrument(skip_all, fields(%username))]
    async fn set_password(
        &self,
        pool_id: &PoolId,
        username: &str,
        update: PasswordUpdate,
        revoke: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        users::set_password(self, (pool_id, username), &update, revoke, now).await
    }

    #[tracing::instrument(skip_all, fields(%username, enabled))]
    async fn set_user_enabled(
        &self,
        pool_id: &PoolId,
        username: &str,
        enabled: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        users::set_enabled(self, (pool_id, username), enabled, now).await
    }

    #[tracing::instrument(skip_all, fields(%username))]
    async fn delete_user(
        &self,
        pool_id: &PoolId,
        username: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        users::delete_user(self, (pool_id, username), now).await
    }

    async fn update_user_profile(
        &self,
        pool_id: &PoolId,
        username: &str,
        email: Option<String>,
        email_verified: bool,
        attributes: String,
    ) -> Result<(), StoreError> {
        let mut c = self.pool().acquire().await?;
        let who = (pool_id, username);
        users::update_profile(&mut *c, who, email.as_deref(), email_verified, &attributes).await
    }

    #[tracing::instrument(skip_all)]
    async fn global_sign_out(
        &self,
        pool_id: &PoolId,
        sub: &Sub,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        B::lock_sub(&mut tx, sub).await?;
        revocations::revoke_user::<B>(&mut tx, pool_id, sub, now, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn put_code(&self, row: CodeRow) -> Result<(), StoreError> {
        let mut c = self.pool().acquire().await?;
        Ok(codes::put(&mut *c, &row).await?)
    }

    #[tracing::instrument(skip_all, fields(username = %a.username, purpose = %a.purpose))]
    async fn use_code(
        &self,
        a: CodeAttempt<'_>,
        effect: CodeEffect,
        now: i64,
    ) -> Result<CodeCheck, StoreError> {
        let key = (a.pool_id, a.username, a.purpose);
        codes::use_code(self, key, a.code_hash, a.max_attempts, &effect, now).await
    }

    async fn count_code(
        &self,
        flows: CodeFlows<'_>,
        event: CodeEvent,
        now: i64,
    ) -> Result<CodeGate, StoreError> {
        let mut c = self.pool().acquire().await?;
        let user = (flows.pool_id, flows.username);
        match event {
            CodeEvent::Issued => code_limits::issue(&mut *c, user, flows.policy, now).await,
            CodeEvent::Failed => code_limits::failure(&mut *c, user, flows.policy, now).await,
        }
    }

    async fn code_gate(
        &self,
        pool_id: &PoolId,
        username: &str,
        now: i64,
    ) -> Result<CodeGate, StoreError> {
        let mut c = self.pool().acquire().await?;
        super::code_limits::gate(&mut *c, (pool_id, username), now).await
    }

    async fn set_pending_email(
        &self,
        pool_id: &PoolId,
        username: &str,
        pending_email: Option<String>,
    ) -> Result<(), StoreError> {
        let mut c = self.pool().acquire().await?;
        users::set_pending_email(&mut *c, (pool_id, username), pending_email.as_deref()).await
    }

    async fn insert_refresh_token(&self, row: RefreshRow) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        tokens::insert(&mut *tx, &row).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_refresh_token(&self, token_hash: &str) -> Result<RefreshRow, StoreError> {
        let mut c = self.pool().acquire().await?;
        tokens::find(&mut *c, token_hash, None)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn find_refresh_token_with_user(
        &self,
        token_hash: &str,
    ) -> Result<Option<(RefreshRow, UserRow)>, StoreError> {
        let mut c = self.pool().acquire().await?;
        Ok(tokens::find_with_user(&mut *c, token_hash).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        successor: RefreshRow,
        grace: i64,
        now: i64,
    ) -> Result<RotateOutcome, StoreError> {
        tokens::rotate(self, old_hash, successor, grace, now).await
    }

    #[tracing::instrument(skip_all)]
    async fn revoke_refresh_family(
        &self,
        token_hash: &str,
        client_id: &ClientId,
        now: i64,
    ) -> Result<(), StoreError> {
        tokens::revoke_family_of(self, token_hash, client_id, now).await
    }

    async fn revocations_after(
        &self,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<RevocationRow>, StoreError> {
        let mut c = self.pool().acquire().await?;
        revocations::after(&mut *c, after_id, limit).await
    }

    async fn latest_sub_revocation(
        &self,
        pool_id: &PoolId,
        sub: &Sub,
    ) -> Result<Option<i64>, StoreError> {
        let mut c = self.pool().acquire().await?;
        revocations::latest_for_sub(&mut *c, pool_id, sub).await
    }

    async fn origin_revoked(&self, pool_id: &PoolId, origin_jti: &str) -> Result<bool, StoreError> {
        let mut c = self.pool().acquire().await?;
        revocations::origin_revoked(&mut *c, pool_id, origin_jti).await
    }

    async fn ensure_runtime_arn(
        &self,
        name: &str,
        candidate_arn: &str,
        now: i64,
    ) -> Result<String, StoreError> {
        let mut tx = self.pool().begin().await?;
        let arn = sessions::ensure_runtime_arn(&mut *tx, name, candidate_arn, now).await?;
        tx.commit().await?;
        Ok(arn)
    }

    #[tracing::instrument(skip_all)]
    async fn bind_session(
        &self,
        runtime_arn: &str,
        session_id: &str,
        owner: &SessionOwner,
        now: i64,
    ) -> Result<SessionOwner, StoreError> {
        let mut tx = self.pool().begin().await?;
        let owner = sessions::bind(&mut *tx, (runtime_arn, session_id), owner, now).await?;
        tx.commit().await?;
        Ok(owner)
    }

    async fn session_owner(
        &self,
        runtime_arn: &str,
        session_id: &str,
    ) -> Result<Option<SessionOwner>, StoreError> {
        let mut c = self.pool().acquire().await?;
        sessions::owner(&mut *c, (runtime_arn, session_id)).await
    }

    async fn claim_session_instance(
        &self,
        runtime_arn: &str,
        session_id: &str,
        instance: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let now = sessions::claim_instance(&mut *tx, (runtime_arn, session_id), instance).await?;
        tx.commit().await?;
        Ok(now)
    }

    async fn release_session_instance(
        &self,
        runtime_arn: &str,
        session_id: &str,
        instance: &str,
    ) -> Result<(), StoreError> {
        let mut c = self.pool().acquire().await?;
        sessions::release_instance(&mut *c, (runtime_arn, session_id), instance).await
    }

    async fn session_instance(
        &self,
        runtime_arn: &str,
        session_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let mut c = self.pool().acquire().await?;
        sessions::instance(&mut *c, (runtime_arn, session_id)).await
    }

    #[tracing::instrument(skip_all, fields(%client_id))]
    async fn delete_client(
        &self,
        pool_id: &PoolId,
        client_id: &ClientId,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        oauth::delete_client::<B>(&mut tx, pool_id, client_id, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_resource_server(&self, row: ResourceServerRow) -> Result<(), StoreError> {
        let mut c = self.pool().acquire().await?;
        oauth::insert_server(&mut *c, &row).await
    }

    async fn resource_servers(
        &self,
        pool_id: &PoolId,
    ) -> Result<Vec<ResourceServerRow>, StoreError> {
        let mut c = self.pool().acquire().await?;
        oauth::servers(&mut *c, pool_id).await
    }

    async fn delete_resource_server(
        &self,
        pool_id: &PoolId,
        identifier: &str,
    ) -> Result<(), StoreError> {
        let mut c = self.pool().acquire().await?;
        oauth::delete_server(&mut *c, pool_id, identifier).await
    }

    async fn put_auth_code(&self, row: AuthCodeRow, now: i64) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        oauth::put_code(&mut *tx, &row, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_auth_code(&self, code_hash: &str) -> Result<Option<AuthCodeRow>, StoreError> {
        let mut c = self.pool().acquire().await?;
        Ok(oauth::find_code(&mut *c, code_hash).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn redeem_auth_code(
        &self,
        code_hash: &str,
        refresh: Option<RefreshRow>,
        now: i64,
    ) -> Result<RedeemOutcome, StoreError> {
        oauth::redeem(self, code_hash, refresh, now).await
    }

    async fn oauth_grant(&self, family_id: &str) -> Result<Option<GrantRow>, StoreError> {
        let mut c = self.pool().acquire().await?;
        oauth::grant(&mut *c, family_id).await
    }

    async fn touch_client(
        &self,
        pool_id: &PoolId,
        client_id: &ClientId,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut c = self.pool().acquire().await?;
        registration::touch(&mut *c, pool_id, client_id, now).await
    }

    #[tracing::instrument(skip_all)]
    async fn sweep_unused_clients(
        &self,
        pool_id: &PoolId,
        cutoff: i64,
        now: i64,
    ) -> Result<Vec<ClientId>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let gone = registration::sweep::<B>(&mut tx, pool_id, cutoff, now).await?;
        tx.commit().await?;
        Ok(gone)
    }

    async fn add_registration_token(
        &self,
        pool_id: &PoolId,
        token_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut c = self.pool().acquire().await?;
        registration::add_token(&mut *c, pool_id, token_hash, now).await
    }

    async fn registration_token_exists(
        &self,
        pool_id: &PoolId,
        token_hash: &str,
    ) -> Result<bool, StoreError> {
        let mut c = self.pool().acquire().await?;
        registration::token_exists(&mut *c, pool_id, token_hash).await
    }

    async fn put_sso_session(&self, row: SsoSessionRow, now: i64) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        oauth::put_sso(&mut *tx, &row, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_sso_session(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<SsoSessionRow>, StoreError> {
        let mut c = self.pool().acquire().await?;
        Ok(oauth::find_sso(&mut *c, id_hash, now).await?)
    }

    async fn delete_sso_session(&self, id_hash: &str) -> Result<(), StoreError> {
        let mut c = self.pool().acquire().await?;
        oauth::delete_sso(&mut *c, id_hash).await
    }
}
