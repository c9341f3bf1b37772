import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.js';

describe('database pool, migration and metrics configuration', () => {
  it('has defaults: a pool of 10, 3 s to connect, 10 s per statement, migrations through DATABASE_URL, no metrics', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://db/app' });
    expect(config.databasePool).toEqual({ size: 10, connectTimeoutMs: 3000, statementTimeoutMs: 10_000 });
    expect(config.migrationDatabaseUrl).toBe('postgres://db/app');
    expect(config.metrics).toEqual({ token: null, port: null });
    expect(loadConfig({}).migrationDatabaseUrl).toBeNull();
  });

  it('reads DATABASE_POOL_SIZE, DATABASE_CONNECT_TIMEOUT_MS, DATABASE_STATEMENT_TIMEOUT_MS, MIGRATION_DATABASE_URL, METRICS_*', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://pgbouncer:6432/app',
      DATABASE_POOL_SIZE: '40',
      DATABASE_CONNECT_TIMEOUT_MS: '500',
      DATABASE_STATEMENT_TIMEOUT_MS: '2500',
      MIGRATION_DATABASE_URL: 'postgresql://db:5432/app',
      METRICS_TOKEN: 'x'.repeat(32),
      METRICS_PORT: '9464',
    });
    expect(config.databasePool).toEqual({ size: 40, connectTimeoutMs: 500, statementTimeoutMs: 2500 });
    expect(config.migrationDatabaseUrl).toBe('postgresql://db:5432/app');
    expect(config.metrics).toEqual({ token: 'x'.repeat(32), port: 9464 });
  });

  it('pipelines the session lookup exactly when statements are prepared, unless DATABASE_PIPELINED_READS says', () => {
    const url = { DATABASE_URL: 'postgres://db/app' };
    expect(loadConfig(url)).toMatchObject({ preparedStatements: true, pipelinedReads: true });
    expect(loadConfig({ ...url, DATABASE_PREPARED_STATEMENTS: 'false' })).toMatchObject({
      preparedStatements: false,
      pipelinedReads: false,
    });
    expect(loadConfig({ ...url, DATABASE_PIPELINED_READS: 'false' })).toMatchObject({
      preparedStatements: true,
      pipelinedReads: false,
    });
    expect(
      loadConfig({ ...url, DATABASE_PREPARED_STATEMENTS: 'false', DATABASE_PIPELINED_READS: 'true' }),
    ).toMatchObject({ preparedStatements: false, pipelinedReads: true });
  });

  it.each([
    ['DATABASE_PIPELINED_READS', 'maybe'],
    ['DATABASE_POOL_SIZE', '0'],
    ['DATABASE_POOL_SIZE', 'ten'],
    ['DATABASE_POOL_SIZE', '1001'],
    ['DATABASE_CONNECT_TIMEOUT_MS', '50'],
    ['DATABASE_CONNECT_TIMEOUT_MS', '-1'],
    ['DATABASE_STATEMENT_TIMEOUT_MS', '99'],
    ['DATABASE_STATEMENT_TIMEOUT_MS', '1.5'],
    ['MIGRATION_DATABASE_URL', 'mysql://db/app'],
    ['METRICS_TOKEN', 'short'],
    ['METRICS_TOKEN', `${'x'.repeat(20)} ${'y'.repeat(20)}`],
    ['METRICS_PORT', '0'],
    ['METRICS_PORT', '70000'],
  ])('refuses %s=%s, naming the variable', (name, raw) => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://db/app', [name]: raw })).toThrow(ConfigError);
    expect(() => loadConfig({ DATABASE_URL: 'postgres://db/app', [name]: raw })).toThrow(name);
  });

  it('refuses MIGRATION_DATABASE_URL without DATABASE_URL, and METRICS_PORT equal to PORT', () => {
    expect(() => loadConfig({ MIGRATION_DATABASE_URL: 'postgres://db/app' })).toThrow(
      'MIGRATION_DATABASE_URL needs DATABASE_URL',
    );
    expect(() => loadConfig({ PORT: '9464', METRICS_PORT: '9464' })).toThrow('METRICS_PORT must differ from PORT');
  });
});
