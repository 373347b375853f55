// A real OpenID Connect provider for the tests, configured like ProConnect: authorisation code with PKCE
// required, a confidential client authenticating with client_secret_post, userinfo answered as a JWT
// signed with the provider's RS256 key (application/jwt), the claims given_name, usual_name, email, uid,
// siret and idp_id (one scope each), RP-initiated logout (end_session_endpoint), and a plain login form
// (the library's devInteractions: type an account's login, any password) with consent given at once.
//
// Built on the npm package oidc-provider, the library ProConnect's own federation runs on. Listens on
// 127.0.0.1 only. Configuration from the environment (tests/support/oidc_harness.py sets it):
//   OIDC_PORT      the port (required)
//   OIDC_CLIENTS   JSON list of {client_id, client_secret, redirect_uris, post_logout_redirect_uris}
//   OIDC_ACCOUNTS  JSON object: login -> {email, given_name, usual_name, uid, siret, idp_id}
// Prints "ready <issuer>" on standard output once listening.

import { createHash, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.OIDC_CLIENTS || '[]');
const accounts = JSON.parse(process.env.OIDC_ACCOUNTS || '{}');
const salt = randomUUID();  // `sub` is pairwise-like at ProConnect: never the email, different per run

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signing = { ...(await exportJWK(privateKey)), kid: 'test-rs256', use: 'sig', alg: 'RS256' };

const page = (title, body) => `<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>${title}</title></head>
<body><main><h1>${title}</h1>${body}</main></body></html>`;

const configuration = {
  clients: clients.map((c) => ({
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: c.redirect_uris,
    post_logout_redirect_uris: c.post_logout_redirect_uris || [],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
    id_token_signed_response_alg: 'RS256',
    userinfo_signed_response_alg: 'RS256',
  })),
  jwks: { keys: [signing] },
  cookies: { keys: [randomUUID()] },
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'given_name', 'usual_name', 'uid', 'siret', 'idp_id'],
  claims: {
    openid: ['sub'],
    email: ['email'],
    given_name: ['given_name'],
    usual_name: ['usual_name'],
    uid: ['uid'],
    siret: ['siret'],
    idp_id: ['idp_id'],
  },
  features: {
    devInteractions: { enabled: true },
    jwtUserinfo: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.body = page('Déconnexion', `${form}<button id="logout-yes" type="submit" form="op.logoutForm" name="logout" value="yes">Oui, me déconnecter</button>`);
      },
      postLogoutSuccessSource: async (ctx) => {
        ctx.body = page('Déconnecté', '<p>Vous êtes déconnecté du fournisseur.</p>');
      },
    },
  },
  ttl: {
    AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600,
  },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    const sub = createHash('sha256').update(`${salt}:${id}:${ctx.oidc.client?.clientId}`).digest('hex');
    return {
      accountId: id,
      async claims() { return { sub, ...account }; },
    };
  },
  // No consent screen (ProConnect asks none): the requested scopes are granted at once.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(ctx.oidc.params.scope || 'openid');
    await grant.save();
    return grant;
  },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = page('Erreur', `<pre id="error">${String(out.error)}: ${String(out.error_description || '')}</pre>`);
  },
};

const provider = new Provider(issuer, configuration);
const server = createServer(provider.callback());
server.listen(port, '127.0.0.1', () => { process.stdout.write(`ready ${issuer}\n`); });
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
