/* Speed and size of the grid telemetry row (device_id STRING, event_time TIMESTAMP, 13
 * quantised DOUBLE sensor values, BOOLEAN, INT/BIGINT flags and counters: 20 columns)
 * through builder, encoder, verify and decoder, with and without the encodings, for
 * each codec. Prints rows/s and bytes per row (STROM_SPEED_ITERS=100 for stable
 * figures); asserts only that the encoded ZSTD batch is >= 5x smaller than Arrow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "format/format.h"

static uint64_t st = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) { st ^= st << 13; st ^= st >> 7; st ^= st << 17; return st; }
static double q(double v, double res) { return (double)llround(v / res) * res; }

static void test_speed(void **state)
{
  (void)state;
  int nrows = 8192, iters = getenv("STROM_SPEED_ITERS") ? atoi(getenv("STROM_SPEED_ITERS")) : 5;
  strom_schema *s = strom_schema_create();
  strom_schema_add(s,"device_id",STROM_STRING,1);
  strom_schema_add(s,"event_time",STROM_TIMESTAMP,1);
  const char *dn[] = {"voltage","current","temperature","va","vb","vc","ia","ib","ic","p","q","pf","freq"};
  for (int i=0;i<13;i++) strom_schema_add(s,dn[i],STROM_DOUBLE,0);
  strom_schema_add(s,"breaker",STROM_BOOLEAN,0);
  strom_schema_add(s,"quality",STROM_INT,0);
  strom_schema_add(s,"alarm",STROM_INT,0);
  strom_schema_add(s,"seq",STROM_BIGINT,0);
  strom_schema_add(s,"tap",STROM_INT,0);
  strom_builder *b = strom_builder_create(s);
  fmt_encoder *e = fmt_encoder_create(); fmt_decoder *dec = fmt_decoder_create();
  strom_batch *bt = fmt_batch_create(20);
  static const double res[13] = {0.001,0.1,0.1,0.001,0.001,0.001,0.1,0.1,0.1,0.01,0.01,0.001,0.001};
  static const double base[13] = {10.0,120,45,10,10,10,120,120,120,2000,300,0.95,50};
  /* pre-generated values, so the build timing is the builder's */
  char (*devs)[16] = malloc((size_t)nrows*16); double *vals = malloc((size_t)nrows*13*8); int64_t *ts = malloc((size_t)nrows*8);
  for (int r=0;r<nrows;r++){ snprintf(devs[r],16,"FDR-%06d",(int)(rnd()%500000)); ts[r]=1764000000000LL+(int64_t)(rnd()%1000);
    for(int k=0;k<13;k++) vals[r*13+k]=q(base[k]*(1+((double)(rnd()%2000)-1000)/20000.0),res[k]); }
  double tb=1e9;
  for (int it=0; it<20; it++) {
    int64_t t0 = strom_mono_ns();
    strom_builder_reset(b);
    for (int r=0;r<nrows;r++){
      strom_builder_put_str(b,0,devs[r],10);
      strom_builder_put_int(b,1,ts[r]);
      for (int k=0;k<13;k++) strom_builder_put_f64(b,2+k,vals[r*13+k]);
      strom_builder_put_int(b,15,(r%100)!=0);
      strom_builder_put_int(b,16,(r%4)==0);
      strom_builder_put_int(b,17,0);
      strom_builder_put_int(b,18,r);
      strom_builder_put_int(b,19,(r%17)-8);
      strom_builder_end_row(b);
    }
    tb = fmin(tb, (double)(strom_mono_ns() - t0) / 1e9);
  }
  printf("builder: %.2fM rows/s (best of 20)\n", nrows/tb/1e6);
  for (int mode = 0; mode < 2; mode++) for (int codec = 0; codec < 3; codec++) {

    double te=1e9, td=1e9, tv=1e9; size_t bytes=0, arrow=0;
    for (int it=0; it<iters; it++) {
      fmt_encode_opts o; fmt_encode_opts_init(&o); o.codec = codec; o.plain_only = mode; o.time_col = 1;
      strom_buf out = {0};
      int64_t t1 = strom_mono_ns();
      if (fmt_encode(e,b,NULL,0,&o,&out)) fail_msg("encode: %s", strom_errmsg());
      int64_t t2 = strom_mono_ns();
      fmt_hdr h; static fmt_dir d[1024];
      if (fmt_batch_verify(out.data,out.len,&h,d)) fail_msg("verify: %s", strom_errmsg());
      int64_t t3 = strom_mono_ns();
      fmt_batch_reset(bt,&h,h.ncols);
      for (int c=0;c<h.ncols;c++) if (fmt_decode_column(dec,&d[c],out.data+d[c].data_offset,h.nrows,bt,"x",&bt->cols[c])) fail_msg("decode: %s", strom_errmsg());
      int64_t t4 = strom_mono_ns();
      te = fmin(te, (double)(t2 - t1) / 1e9);
      tv = fmin(tv, (double)(t3 - t2) / 1e9);
      td = fmin(td, (double)(t4 - t3) / 1e9);
      bytes = out.len; arrow = h.arrow_size;
      if (mode == 0 && codec == 1)
          assert_true((double)arrow / (double)bytes >= 5.0); /* what the encodings buy */
      strom_buf_free(&out);
    }
    printf("%s %-4s: encode %6.2fM rows/s  verify %7.2fM rows/s  decode all 20 cols %6.2fM rows/s  %5.1f B/row  arrow/stored %.2f\n",
      mode ? "plain_only" : "encodings ", codec==0?"NONE":codec==1?"ZSTD":"LZ4", nrows/te/1e6, nrows/tv/1e6, nrows/td/1e6, (double)bytes/nrows, (double)arrow/bytes);
  }
  free(devs); free(vals); free(ts);
  strom_batch_destroy(bt); fmt_encoder_destroy(e); fmt_decoder_destroy(dec);
  strom_builder_destroy(b); strom_schema_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_speed)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
